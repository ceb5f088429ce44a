//! Outgoing HTTP for plugins (`wasi:http/outgoing-handler`), allowed only to the hosts the
//! plugin's manifest lists under `permissions.network`. Everything else is refused with
//! `HTTP-request-denied` before any connection is made, and logged with the plugin's id.

use std::sync::Arc;

use http_body_util::BodyExt;
use tracing::{debug, warn};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The outgoing-request policy of one store.
pub struct HttpPolicy {
    plugin: Arc<str>,
    allowed: Arc<[String]>,
    audit: Arc<crate::audit::Audit>,
}

impl HttpPolicy {
    /// A policy for `plugin` allowing `allowed` (`host`, `host:port` or `*.domain`).
    pub fn new(
        plugin: Arc<str>,
        allowed: Arc<[String]>,
        audit: Arc<crate::audit::Audit>,
    ) -> HttpPolicy {
        HttpPolicy {
            plugin,
            allowed,
            audit,
        }
    }
}

/// Whether `uri`'s host (and port) is one of `allowed`. An entry without a port allows
/// any port of that host; `*.example.com` allows its subdomains (not the apex).
pub fn is_allowed(allowed: &[String], uri: &http::Uri) -> bool {
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    allowed.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        let (entry_host, entry_port) = match entry.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
                (h.to_string(), p.parse().ok())
            }
            _ => (entry.clone(), None),
        };
        let host_ok = match entry_host.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == entry_host,
        };
        host_ok && entry_port.is_none_or(|p| Some(p) == port)
    })
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let uri = request.uri().clone();
        if !is_allowed(&self.allowed, &uri) {
            warn!(plugin = %self.plugin, %uri, "outgoing HTTP refused: host not in the manifest's permissions.network");
            self.audit.deny(
                &self.plugin,
                crate::audit::Kind::Host,
                format!("outgoing HTTP to {uri}: host not in permissions.network"),
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        debug!(plugin = %self.plugin, method = %request.method(), %uri, "outgoing HTTP");
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str], uri: &str) -> bool {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        is_allowed(&list, &uri.parse().expect("uri"))
    }

    #[test]
    fn allows_only_listed_hosts_and_ports() {
        assert!(allowed(
            &["api.openai.com"],
            "https://api.openai.com/v1/chat"
        ));
        assert!(allowed(&["API.openai.com"], "https://api.OPENAI.com/v1"));
        assert!(!allowed(&["api.openai.com"], "https://evil.example/v1"));
        assert!(!allowed(
            &["api.openai.com"],
            "https://api.openai.com.evil.example/"
        ));
        assert!(allowed(&["127.0.0.1:8080"], "http://127.0.0.1:8080/x"));
        assert!(!allowed(&["127.0.0.1:8080"], "http://127.0.0.1:8081/x"));
        assert!(allowed(&["localhost"], "http://localhost:9999/"));
        assert!(allowed(
            &["*.googleapis.com"],
            "https://generativelanguage.googleapis.com/v1"
        ));
        assert!(!allowed(&["*.googleapis.com"], "https://googleapis.com/"));
        assert!(!allowed(&[], "https://api.openai.com/"));
    }
}
