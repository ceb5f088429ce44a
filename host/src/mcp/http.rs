//! `/mcp`: the MCP endpoint over Streamable HTTP (rmcp's tower service), mounted in the
//! API router.
//!
//! - Protocol revisions: every revision rmcp knows, from 2024-11-05 to 2026-07-28. A
//!   client that starts with `initialize` (up to 2025-11-25) gets a session
//!   (`Mcp-Session-Id`), a standalone `GET` stream for list-changed notifications and
//!   `DELETE` to end it (200); sessions idle for 5 minutes are closed. A 2026-07-28 client calls
//!   without a session (`server/discover`, per-request `_meta`) and follows changes with
//!   `subscriptions/listen`.
//! - `Origin`: a request carrying one must come from an origin listed in `[cors] origins`
//!   (exact match, as for CORS), or it is refused with 403 before it reaches the protocol,
//!   as the transport specification requires against DNS rebinding; requests without
//!   `Origin` (non-browser clients) pass. The `Host` header is not restricted: the host
//!   serves on any address it is bound to.
//! - Shutdown: [`close_sessions`] ends every open stream, so a graceful shutdown does not
//!   wait on connected clients.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::ORIGIN;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::server::Handler;
use crate::error::ApiError;
use crate::state::AppState;

/// Where the endpoint is mounted.
pub const PATH: &str = "/mcp";

/// Cancelled when the server shuts down: ends every MCP session and stream.
static SHUTDOWN: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// Ends every MCP session and stream of this process (at shutdown).
pub fn close_sessions() {
    SHUTDOWN.cancel();
}

/// The `/mcp` route over `state`'s plugins, with its `Origin` check.
pub fn routes(state: &AppState) -> Router<AppState> {
    let plugins = state.plugins.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .disable_allowed_hosts()
        // Origins are checked by `guard` against the CORS list, exactly.
        .disable_allowed_origins()
        .with_cancellation_token(SHUTDOWN.child_token());
    let service = StreamableHttpService::new(
        move || Ok(Handler::new(plugins.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let origins: Arc<[String]> = state.config.cors.origins.clone().into();
    Router::new()
        .route_service(PATH, service)
        .route_layer(middleware::from_fn_with_state(origins, guard))
}

/// Whether a request with this `Origin` header (if any) may use the endpoint.
pub fn origin_allowed(allowed: &[String], origin: Option<&HeaderValue>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    origin.to_str().is_ok_and(|origin| {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    })
}

/// Refuses foreign origins; answers a session's `DELETE` with 200 rather than rmcp's 202,
/// which the official Python SDK reports as a failed termination.
async fn guard(State(allowed): State<Arc<[String]>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(ORIGIN);
    if !origin_allowed(&allowed, origin) {
        let shown = origin
            .and_then(|o| o.to_str().ok())
            .unwrap_or("(not text)")
            .to_string();
        warn!(origin = %shown, "MCP request from an origin not in [cors] origins refused");
        return ApiError::forbidden(format!(
            "origin `{shown}` may not use the MCP endpoint: it is not one of the configured \
             CORS origins ([cors] origins)"
        ))
        .into_response();
    }
    let delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;

    use super::*;
    use crate::api::test_support::{send, state};

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_request_without_origin_is_allowed() {
        assert!(origin_allowed(&origins(&[]), None));
    }

    #[test]
    fn only_listed_origins_are_allowed_exactly() {
        let allowed = origins(&["http://localhost:3000", "https://app.example/"]);
        let check =
            |o: &str| origin_allowed(&allowed, Some(&HeaderValue::from_str(o).expect("ascii")));
        assert!(check("http://localhost:3000"));
        assert!(check("HTTPS://APP.EXAMPLE"));
        assert!(!check("http://localhost:3001"));
        assert!(!check("http://evil.example"));
        assert!(!check("null"));
    }

    fn initialize(origin: Option<&str>) -> Request<Body> {
        let mut request = Request::post(PATH)
            .header("host", "sanctuary.example:5000")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "test", "version": "0" }
            }
        });
        request.body(Body::from(body.to_string())).expect("request")
    }

    #[tokio::test]
    async fn a_foreign_origin_is_refused_with_403_before_the_protocol() {
        let (state, _db, _dir) = state().await;
        let (status, _, body) =
            send(crate::app(state), initialize(Some("http://evil.example"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["success"], false);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("http://evil.example")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn an_allowed_origin_and_no_origin_both_reach_the_protocol() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for origin in [None, Some("http://localhost:3000")] {
            let response = tower::ServiceExt::oneshot(app.clone(), initialize(origin))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
            assert!(
                response.headers().contains_key("mcp-session-id"),
                "{origin:?}: {:?}",
                response.headers()
            );
        }
    }

    #[tokio::test]
    async fn ending_a_session_answers_200_and_the_session_is_gone() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let response = tower::ServiceExt::oneshot(app.clone(), initialize(None))
            .await
            .expect("infallible");
        let session = response.headers()["mcp-session-id"].clone();
        let delete = || {
            Request::delete(PATH)
                .header("host", "localhost")
                .header("mcp-session-id", session.clone())
                .body(Body::empty())
                .expect("request")
        };
        let response = tower::ServiceExt::oneshot(app.clone(), delete())
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        // The session is gone: a request naming it is refused.
        let list = Request::post(PATH)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .body(Body::from(
                json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string(),
            ))
            .expect("request");
        let response = tower::ServiceExt::oneshot(app, list)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
