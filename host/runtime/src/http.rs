//! Outgoing HTTP for plugins (`wasi:http/outgoing-handler`), allowed only to the hosts the
//! plugin's manifest lists under `permissions.network`. Everything else is refused with
//! `HTTP-request-denied` before any connection is made, and logged with the plugin's id.
//!
//! A granted name is not enough: the host resolves it itself and checks every address
//! ([`special_range`]). Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified
//! and other special-purpose addresses are refused (`destination-IP-prohibited`) unless
//! the manifest grants that very address (an IP literal, or `localhost` for loopback).
//! The connection then goes to the address that was checked — there is no second lookup a
//! rebinding DNS server could answer differently — through the host's own client
//! ([`send_to`]: tokio TCP, rustls with the webpki roots, hyper HTTP/1.1). wasi:http does
//! not follow redirects, so every hop a guest follows is a new request, checked again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tracing::{debug, warn};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The outgoing-request policy of one store.
pub struct HttpPolicy {
    plugin: Arc<str>,
    allowed: Arc<[String]>,
    audit: Arc<dyn crate::audit::Denials>,
}

impl HttpPolicy {
    /// A policy for `plugin` allowing `allowed` (`host`, `host:port` or `*.domain`).
    pub fn new(
        plugin: Arc<str>,
        allowed: Arc<[String]>,
        audit: Arc<dyn crate::audit::Denials>,
    ) -> HttpPolicy {
        HttpPolicy {
            plugin,
            allowed,
            audit,
        }
    }
}

/// Splits a grant entry into its host (lowercase, without IPv6 brackets) and port.
fn entry_parts(entry: &str) -> (String, Option<u16>) {
    let entry = entry.to_ascii_lowercase();
    if entry.parse::<IpAddr>().is_ok() {
        return (entry, None);
    }
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((ip, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (ip.to_string(), port);
    }
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
            (h.to_string(), p.parse().ok())
        }
        _ => (entry, None),
    }
}

/// The host (lowercase, without IPv6 brackets) and port of `uri`.
fn uri_parts(uri: &http::Uri) -> Option<(String, Option<u16>)> {
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    Some((host, port))
}

/// Whether `uri`'s host (and port) is one of `allowed`. An entry without a port allows
/// any port of that host; `*.example.com` allows its subdomains (not the apex).
pub fn is_allowed(allowed: &[String], uri: &http::Uri) -> bool {
    let Some((host, port)) = uri_parts(uri) else {
        return false;
    };
    allowed.iter().any(|entry| {
        let (entry_host, entry_port) = entry_parts(entry);
        let host_ok = match entry_host.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == entry_host,
        };
        host_ok && entry_port.is_none_or(|p| Some(p) == port)
    })
}

/// The special-purpose range `ip` lies in (loopback, private, link-local, ...), or `None`
/// for an ordinary public address. IPv4 addresses embedded in IPv6 (mapped, NAT64,
/// 6to4) are judged by their IPv4 part.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, _, _) => "this-network (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) => "private (10.0.0.0/8)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared address space (CGNAT, 100.64.0.0/10)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) carry an IPv4 address.
        0x0064 if s[1] == 0xff9b && s[2..6] == [0; 4] => {
            return special_v4(embedded(s[6], s[7]));
        }
        0x2002 => return special_v4(embedded(s[1], s[2])),
        x if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        x if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        x if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        x if x & 0xff00 == 0xff00 => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation (2001:db8::/32)",
        0 if s[1..6] == [0; 5] => "IPv4-compatible (::/96)",
        0x0100 if s[1..4] == [0; 3] => "discard-only (100::/64)",
        _ => return None,
    })
}

/// Whether a grant entry names address `addr` itself: an IP literal equal to its IP, or
/// `localhost` for a loopback IP (with the entry's port, if any, equal to its port).
/// Only such entries open a special-purpose address; a host name never does.
pub fn grants_address(allowed: &[String], addr: SocketAddr) -> bool {
    allowed.iter().any(|entry| {
        let (host, port) = entry_parts(entry);
        let names_it = match host.parse::<IpAddr>() {
            Ok(ip) => ip == addr.ip() || ip.to_canonical() == addr.ip().to_canonical(),
            Err(_) => host == "localhost" && addr.ip().to_canonical().is_loopback(),
        };
        names_it && port.is_none_or(|p| p == addr.port())
    })
}

/// Why each of `addrs` may not be reached under `allowed`, or the first that may.
pub fn pick_address(allowed: &[String], addrs: &[SocketAddr]) -> Result<SocketAddr, String> {
    let mut refused = Vec::new();
    for addr in addrs {
        match special_range(addr.ip()) {
            None => return Ok(*addr),
            Some(_) if grants_address(allowed, *addr) => return Ok(*addr),
            Some(range) => refused.push(format!("{} ({range})", addr.ip())),
        }
    }
    if refused.is_empty() {
        Err("the name resolves to no address".into())
    } else {
        Err(format!(
            "resolves only to addresses the manifest does not grant: {}",
            refused.join(", ")
        ))
    }
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
        let plugin = self.plugin.clone();
        let allowed = self.allowed.clone();
        let audit = self.audit.clone();
        Box::new(async move {
            let Some((host, Some(port))) = uri_parts(&uri) else {
                return Err(Error::HttpRequestUriInvalid);
            };
            let addr = resolve(&plugin, &allowed, &host, port)
                .await
                .inspect_err(|(_, reason)| {
                    if let Some(reason) = reason {
                        audit.deny(
                            &plugin,
                            crate::audit::Kind::Host,
                            format!("outgoing HTTP to {uri}: {reason}"),
                        );
                    }
                })
                .map_err(|(e, _)| e)?;
            send_to(addr, &host, request, options).await
        })
    }
}

/// Resolves `host` (no lookup for an IP literal) and picks an address `allowed` lets the
/// plugin reach; a refusal is logged and answered `destination-IP-prohibited`, with the
/// reason (for the audit of denials; `None` when the name did not resolve).
async fn resolve(
    plugin: &str,
    allowed: &[String],
    host: &str,
    port: u16,
) -> Result<SocketAddr, (Error, Option<String>)> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| {
                debug!(plugin, host, "DNS lookup failed");
                let e = Error::DnsError {
                    rcode: None,
                    info_code: None,
                };
                (e, None)
            })?
            .collect(),
    };
    pick_address(allowed, &addrs).map_err(|reason| {
        warn!(plugin, host, port, %reason, "outgoing HTTP refused: address not granted");
        (Error::DestinationIpProhibited, Some(reason))
    })
}

/// The timeouts of `options`, each 600 s when not set.
fn timeouts(options: Option<RequestOptions>) -> (Duration, Duration) {
    let or_default = |d: Option<Duration>| d.unwrap_or(Duration::from_secs(600));
    (
        or_default(options.and_then(|o| o.connect_timeout)),
        or_default(options.and_then(|o| o.first_byte_timeout)),
    )
}

/// Sends `request` over a new connection to `addr` (TLS for `https`, verified for
/// `host`), drives the connection until the response head arrives, and hands back the
/// response with the future that keeps the connection going while its body is read.
async fn send_to(
    addr: SocketAddr,
    host: &str,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
> {
    let (connect_timeout, first_byte_timeout) = timeouts(options);
    let tls = request.uri().scheme() == Some(&http::uri::Scheme::HTTPS);
    let tcp = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    *request.uri_mut() = path;
    let (response, conn) = if tls {
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => tokio_rustls::rustls::pki_types::ServerName::from(ip),
            Err(_) => tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(Error::InvalidDnsNameError)?,
        };
        let stream = tokio::time::timeout(connect_timeout, tls_connector().connect(name, tcp))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        exchange(stream, request, connect_timeout, first_byte_timeout).await?
    } else {
        exchange(tcp, request, connect_timeout, first_byte_timeout).await?
    };
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, conn))
}

/// One HTTP/1.1 exchange over `io`.
async fn exchange<IO>(
    io: IO,
    request: http::Request<WasiBody>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
) -> Result<
    (
        http::Response<hyper::body::Incoming>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let mut conn = Box::pin(conn);
    let send = sender.send_request(request);
    tokio::pin!(send);
    let mut conn_done = false;
    let response = tokio::time::timeout(first_byte_timeout, async {
        tokio::select! {
            response = &mut send => response,
            finished = &mut conn => {
                conn_done = true;
                finished?;
                send.await
            }
        }
    })
    .await
    .map_err(|_| Error::ConnectionReadTimeout)??;
    let drive: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async move {
        if !conn_done {
            conn.await?;
        }
        Ok(())
    });
    Ok((response, drive))
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: std::sync::LazyLock<Arc<tokio_rustls::rustls::ClientConfig>> =
        std::sync::LazyLock::new(|| {
            let roots = tokio_rustls::rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            Arc::new(
                tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                    tokio_rustls::rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
            )
        });
    tokio_rustls::TlsConnector::from(CONFIG.clone())
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
        assert!(allowed(&["::1"], "http://[::1]:9999/"));
        assert!(allowed(&["[::1]:8080"], "http://[::1]:8080/"));
        assert!(allowed(
            &["*.googleapis.com"],
            "https://generativelanguage.googleapis.com/v1"
        ));
        assert!(!allowed(&["*.googleapis.com"], "https://googleapis.com/"));
        assert!(!allowed(&[], "https://api.openai.com/"));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn special_ranges_are_named_and_public_addresses_are_not() {
        for (addr, range) in [
            ("127.0.0.1", "loopback"),
            ("127.9.9.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "CGNAT"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this-network"),
            ("255.255.255.255", "reserved"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:7f00:1::", "loopback"),
            ("::127.0.0.1", "IPv4-compatible"),
        ] {
            let found = special_range(ip(addr)).unwrap_or_else(|| panic!("{addr} is special"));
            assert!(found.contains(range), "{addr}: {found}");
        }
        for addr in [
            "93.184.215.14",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "64:ff9b::101:101",
        ] {
            assert_eq!(special_range(ip(addr)), None, "{addr}");
        }
    }

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_host_name_never_opens_a_private_address_but_an_explicit_grant_does() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let public: SocketAddr = "93.184.215.14:443".parse().expect("addr");
        let err = pick_address(&list(&["docs.example"]), &[loopback]).expect_err("refused");
        assert!(err.contains("127.0.0.1 (loopback)"), "{err}");
        assert_eq!(
            pick_address(&list(&["docs.example"]), &[loopback, public]),
            Ok(public)
        );
        for grant in ["127.0.0.1", "127.0.0.1:8080", "localhost", "localhost:8080"] {
            assert_eq!(
                pick_address(&list(&[grant]), &[loopback]),
                Ok(loopback),
                "{grant}"
            );
        }
        for grant in [
            "127.0.0.1:9090",
            "localhost:9090",
            "127.0.0.2",
            "*.localhost",
        ] {
            assert!(
                pick_address(&list(&[grant]), &[loopback]).is_err(),
                "{grant}"
            );
        }
        let metadata: SocketAddr = "169.254.169.254:80".parse().expect("addr");
        assert!(pick_address(&list(&["localhost"]), &[metadata]).is_err());
        let v6: SocketAddr = "[::1]:8080".parse().expect("addr");
        assert_eq!(pick_address(&list(&["localhost"]), &[v6]), Ok(v6));
        assert_eq!(pick_address(&list(&["::1"]), &[v6]), Ok(v6));
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_without_connecting() {
        // The resolver reads `127.1`, `2130706433` and `0x7f000001` as 127.0.0.1 without
        // any DNS server; granting such a name (not `localhost`, not the IP literal
        // `127.0.0.1`) must not open loopback.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        for name in ["127.1", "2130706433", "0x7f000001"] {
            let err = resolve("t", &list(&[name]), name, port).await;
            assert!(
                matches!(&err, Err((Error::DestinationIpProhibited, Some(why))) if why.contains("loopback")),
                "{name}: {err:?}"
            );
        }
        let ok = resolve("t", &list(&["127.0.0.1"]), "127.0.0.1", port).await;
        assert_eq!(ok.ok(), Some(SocketAddr::from(([127, 0, 0, 1], port))));
    }
}
