//! Request ids and the access log, as the outermost layer of the application.
//!
//! - **Request id**: taken from the request's `x-request-id` when it is 1 to 128 visible
//!   ASCII characters (a proxy's id is kept), else made (a UUID without dashes). It is
//!   returned in the response's `x-request-id`, and every log line written while the
//!   request is served, plugin calls included, is inside a `request{id=…}` span, so
//!   `grep <id>` finds all of a request's lines (in JSON logs: `spans[].id`).
//! - **Access log**: one `info` line per request, target `sanctuary::access`: method,
//!   matched route template (never the raw path, which may hold ids; `unmatched` when no
//!   API route matched, `-` for requests answered outside the router, such as Socket.IO), status, latency to the response head in ms, client address and request id.
//!   `[log] access = false` (`--access-log false`) turns it off; so does a log filter such
//!   as `SANCTUARY_LOG=info,sanctuary::access=off`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header carrying the request id, in and out.
pub const HEADER: &str = "x-request-id";

/// Longest request id taken from a client.
const MAX_ID: usize = 128;

/// The id of the request being served (a request extension).
pub use crate::logsafe::RequestId;

/// The route template that served a request (a response extension, set by
/// [`crate::metrics::track_http`], which runs where axum knows it).
#[derive(Debug, Clone)]
pub struct RouteTemplate(pub String);

/// Whether `value` may be kept as a request id: 1 to [`MAX_ID`] visible ASCII characters.
fn acceptable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_ID && value.bytes().all(|b| b.is_ascii_graphic())
}

/// The middleware: see the module docs. `access` says whether to write the access line.
pub async fn layer(State(access): State<bool>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id: String = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    request
        .extensions_mut()
        .insert(RequestId(id.as_str().into()));
    let method = request.method().clone();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    if access {
        let route = response
            .extensions()
            .get::<RouteTemplate>()
            .map_or("-", |r| r.0.as_str());
        tracing::info!(
            target: "sanctuary::access",
            method = %method,
            route,
            status = response.status().as_u16(),
            latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
            client = %client.map_or_else(|| "-".to_string(), |ip| ip.to_string()),
            request_id = %id,
            "request"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_kept_only_when_it_is_short_visible_ascii() {
        assert!(acceptable("abc-123"));
        assert!(acceptable(&"x".repeat(128)));
        assert!(!acceptable(""));
        assert!(!acceptable(&"x".repeat(129)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nINFO forged"));
        assert!(!acceptable("é"));
    }
}
