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
//! - Bounds: sessions are counted overall (`[server] mcp_max_sessions`, default 1000) and
//!   per client (`mcp_max_sessions_per_client`, default 16; a client is its API key, login
//!   session or address); an `initialize` over either bound is answered with a JSON-RPC
//!   error (503, or 429 for the client's own bound) and creates nothing. A session unused
//!   for `mcp_session_idle_secs` (default 300) is closed and its memory freed. The
//!   session-less revision (2026-07-28) keeps no state between requests at all.
//! - Malformed input answers JSON-RPC errors before it reaches the protocol: a body that
//!   is not JSON `-32700` (400), not a JSON-RPC 2.0 message `-32600` (400), `params` of the
//!   wrong shape or `tools/call` without a tool `name` `-32602` naming the field (400).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::ORIGIN;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::server::Handler;
use crate::error::ApiError;
use crate::plugins::PluginHost;
use crate::state::AppState;

/// Where the endpoint is mounted.
pub use super::PATH;

/// Largest `/mcp` request body read, in bytes.
const MAX_BODY: usize = 4 << 20;

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
    let server = &state.config.server;
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(Duration::from_secs(server.mcp_session_idle_secs));
    let sessions = Arc::new(sessions);
    let service = StreamableHttpService::new(
        move || Ok(Handler::new(plugins.clone())),
        sessions.clone(),
        config,
    );
    let guard_state = Arc::new(Guard {
        allowed: state.config.cors.origins.clone().into(),
        sessions,
        max_sessions: server.mcp_max_sessions,
        max_per_client: server.mcp_max_sessions_per_client,
        owners: Mutex::new(HashMap::new()),
        opening: tokio::sync::Mutex::new(()),
    });
    let scoped = Router::new()
        .route_service(SCOPED_PATH, service.clone())
        .route_layer(middleware::from_fn_with_state(
            state.plugins.clone(),
            loaded_server,
        ));
    Router::new()
        .route_service(PATH, service)
        .merge(scoped)
        .route_layer(middleware::from_fn_with_state(guard_state, guard))
}

/// One plugin's MCP endpoint (see [`super::server::scope_of`]).
pub const SCOPED_PATH: &str = "/mcp/{plugin}";

/// Refuses `/mcp/<plugin>` with 404 and a JSON-RPC error unless `<plugin>` is a loaded
/// mcp-server plugin.
async fn loaded_server(
    State(plugins): State<Arc<PluginHost>>,
    axum::extract::Path(plugin): axum::extract::Path<String>,
    request: Request,
    next: Next,
) -> Response {
    if super::server(&plugins, &plugin).is_err() {
        return rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            -32000,
            format!(
                "no MCP server plugin `{}` is loaded; GET /api/mcp/servers lists them",
                crate::logsafe::safe(&plugin)
            ),
        );
    }
    next.run(request).await
}

/// What the endpoint's guard knows: the allowed origins and the session bounds.
struct Guard {
    allowed: Arc<[String]>,
    sessions: Arc<LocalSessionManager>,
    max_sessions: usize,
    max_per_client: usize,
    /// The sessions each client opened (ids; those since closed are pruned when counted).
    owners: Mutex<HashMap<String, Vec<String>>>,
    /// Held from the bound check until the new session exists, so concurrent
    /// `initialize` calls cannot all pass the check at once.
    opening: tokio::sync::Mutex<()>,
}

impl Guard {
    /// Whether `client` may open one more session; if not, the JSON-RPC refusal.
    async fn admit(&self, client: &str, id: &Value) -> Result<(), Response> {
        let live = self.sessions.sessions.read().await;
        if live.len() >= self.max_sessions {
            return Err(rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                id.clone(),
                -32000,
                format!(
                    "too many MCP sessions are open (at most {}, [server] mcp_max_sessions); \
                     end one with DELETE /mcp or retry later",
                    self.max_sessions
                ),
            ));
        }
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        // Forget sessions that have ended, and clients left with none.
        owners.retain(|_, ids| {
            ids.retain(|sid| live.keys().any(|k| k.as_ref() == sid.as_str()));
            !ids.is_empty()
        });
        let held = owners.get(client).map_or(0, Vec::len);
        if held >= self.max_per_client {
            return Err(rpc_error(
                StatusCode::TOO_MANY_REQUESTS,
                id.clone(),
                -32000,
                format!(
                    "this client holds {held} MCP sessions, the most allowed \
                     ([server] mcp_max_sessions_per_client); end one with DELETE /mcp first"
                ),
            ));
        }
        Ok(())
    }

    /// Records that `client` opened session `sid`.
    fn opened(&self, client: String, sid: String) {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.entry(client).or_default().push(sid);
    }
}

/// A JSON-RPC error answer with `status`.
fn rpc_error(status: StatusCode, id: Value, code: i64, message: impl Into<String>) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message.into() },
    });
    (status, axum::Json(body)).into_response()
}

/// Checks that `message` is a JSON-RPC 2.0 message this endpoint can take; the error
/// (code and message) otherwise. A `tools/call` must name its tool.
fn check_message(message: &Value) -> Result<(), (i64, String)> {
    let invalid = |why: &str| Err((-32600, format!("Invalid Request: {why}")));
    let Value::Object(fields) = message else {
        return invalid("a JSON-RPC message must be a JSON object (batches are not supported)");
    };
    if fields.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("`jsonrpc` must be \"2.0\"");
    }
    match fields.get("id") {
        None | Some(Value::String(_)) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(_) => return invalid("`id` must be a string or an integer"),
    }
    let Some(method) = fields.get("method") else {
        return if fields.contains_key("result") || fields.contains_key("error") {
            Ok(())
        } else {
            invalid("a message needs a `method` (or is a response with `result` or `error`)")
        };
    };
    let Some(method) = method.as_str() else {
        return invalid("`method` must be a string");
    };
    let params = match fields.get("params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(params)) => Some(params),
        Some(_) => return Err((-32602, "Invalid params: `params` must be an object".into())),
    };
    if method == "tools/call" {
        match params.and_then(|p| p.get("name")) {
            Some(Value::String(name)) if !name.is_empty() => {}
            _ => {
                return Err((
                    -32602,
                    "Invalid params: `name` is required: the tool to call (see tools/list)".into(),
                ));
            }
        }
        match params.and_then(|p| p.get("arguments")) {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(_) => {
                return Err((
                    -32602,
                    "Invalid params: `arguments` must be an object".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The client a request counts against: its rate-limit bucket (key, session or address).
fn client_of(request: &Request) -> String {
    if let Some(limit) = request
        .extensions()
        .get::<crate::auth::ratelimit::ClientLimit>()
    {
        return limit.bucket().to_string();
    }
    if let Some(crate::auth::principal::Resolved::Valid(principal)) =
        request
            .extensions()
            .get::<crate::auth::principal::Resolved>()
    {
        return principal.bucket();
    }
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(
            || "shared".to_string(),
            |info| format!("ip:{}", info.0.ip()),
        )
}

/// Reads and checks a `POST /mcp` before the protocol sees it: the request rebuilt from
/// its body, whether it opens a session, and its id; or the JSON-RPC refusal.
async fn check_post(request: Request) -> Result<(Request, bool, Value), Response> {
    let json_body = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !json_body {
        return Err(rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Value::Null,
            -32600,
            "Invalid Request: Content-Type must be application/json",
        ));
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            let (status, message) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Invalid Request: the body is over {MAX_BODY} bytes"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("Invalid Request: the body could not be read: {err}"),
                )
            };
            return Err(rpc_error(status, Value::Null, -32600, message));
        }
    };
    let message: Value = serde_json::from_slice(&bytes).map_err(|e| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32700,
            format!("Parse error: the body is not JSON: {e}"),
        )
    })?;
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    check_message(&message)
        .map_err(|(code, why)| rpc_error(StatusCode::BAD_REQUEST, id.clone(), code, why))?;
    let opens = message.get("method").and_then(Value::as_str) == Some("initialize")
        && !parts.headers.contains_key("mcp-session-id");
    Ok((Request::from_parts(parts, Body::from(bytes)), opens, id))
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
async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(ORIGIN);
    if !origin_allowed(&guard.allowed, origin) {
        let shown =
            crate::logsafe::safe(origin.and_then(|o| o.to_str().ok()).unwrap_or("(not text)"));
        warn!(origin = %shown, "MCP request from an origin not in [cors] origins refused");
        return ApiError::forbidden(format!(
            "origin `{shown}` may not use the MCP endpoint: it is not one of the configured \
             CORS origins ([cors] origins)"
        ))
        .into_response();
    }
    let delete = request.method() == Method::DELETE;
    // Only `initialize` without a session takes it (see `check_post`); others pass.
    let mut opening = None;
    let (request, opens) = if request.method() == Method::POST {
        match check_post(request).await {
            Ok((request, opens, id)) => {
                if opens {
                    let lock = guard.opening.lock().await;
                    if let Err(refusal) = guard.admit(&client_of(&request), &id).await {
                        return refusal;
                    }
                    opening = Some(lock);
                }
                (request, opens)
            }
            Err(refusal) => return refusal,
        }
    } else {
        (request, false)
    };
    let client = opens.then(|| client_of(&request));
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    if let Some(client) = client
        && let Some(sid) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        guard.opened(client, sid.to_string());
    }
    drop(opening);
    response
}

/// The endpoint's operations for the API description. `/mcp` is rmcp's tower service, not
/// an axum handler, so these items (never called) carry its `#[utoipa::path]`
/// annotations; the statuses are those [`guard`] and rmcp answer.
pub mod described {
    use crate::api::openapi::{ErrorBody, JsonRpcErrorBody, JsonRpcMessage};

    /// JSON-RPC requests and notifications for the tools, resources and prompts of every
    /// MCP-server plugin.
    #[utoipa::path(
        post, path = "/mcp", tag = "mcp",
        summary = "The MCP endpoint (Streamable HTTP)",
        params(
            ("Mcp-Session-Id" = Option<String>, Header, description = "The session, once `initialize` opened one"),
        ),
        request_body = JsonRpcMessage,
        responses(
            (status = 200, description = "A JSON-RPC answer, as JSON or as an event stream", content(
                (JsonRpcMessage = "application/json"),
                (String = "text/event-stream"),
            )),
            (status = 202, description = "A notification or an answer was accepted"),
            (status = 400, description = "Not JSON (`-32700`), not a JSON-RPC 2.0 message (`-32600`), params of the wrong shape (`-32602`), or no session id where one is needed", body = JsonRpcErrorBody),
            (status = 403, description = "An `Origin` not in `[cors] origins`", body = ErrorBody),
            (status = 404, description = "An unknown or ended session (`Mcp-Session-Id`)", body = JsonRpcErrorBody),
            (status = 406, description = "`Accept` lacks `application/json` or `text/event-stream`", body = JsonRpcErrorBody),
            (status = 413, description = "A body over 4 MiB", body = JsonRpcErrorBody),
            (status = 415, description = "A body that is not `application/json`", body = JsonRpcErrorBody),
            (status = 429, description = "This client has too many MCP sessions open (`[server] mcp_max_sessions_per_client`)", body = JsonRpcErrorBody),
            (status = 503, description = "Too many MCP sessions are open (`[server] mcp_max_sessions`)", body = JsonRpcErrorBody),
        ),
    )]
    pub fn post() {}

    /// A session's stream of server notifications.
    #[utoipa::path(
        get, path = "/mcp", tag = "mcp",
        summary = "The MCP endpoint: a session's notification stream",
        params(
            ("Mcp-Session-Id" = Option<String>, Header, description = "The session"),
        ),
        responses(
            (status = 200, description = "An event stream", body = String, content_type = "text/event-stream"),
            (status = 400, description = "No session id", body = JsonRpcErrorBody),
            (status = 403, description = "An `Origin` not in `[cors] origins`", body = ErrorBody),
            (status = 404, description = "An unknown or ended session", body = JsonRpcErrorBody),
            (status = 406, description = "`Accept` lacks `text/event-stream`", body = JsonRpcErrorBody),
            (status = 409, description = "The session already has its stream open", body = JsonRpcErrorBody),
        ),
    )]
    pub fn get() {}

    /// Ends a session.
    #[utoipa::path(
        delete, path = "/mcp", tag = "mcp",
        summary = "The MCP endpoint: ends a session",
        params(
            ("Mcp-Session-Id" = Option<String>, Header, description = "The session to end"),
        ),
        responses(
            (status = 200, description = "Session ended"),
            (status = 400, description = "No session id", body = JsonRpcErrorBody),
            (status = 403, description = "An `Origin` not in `[cors] origins`", body = ErrorBody),
            (status = 404, description = "An unknown or ended session", body = JsonRpcErrorBody),
        ),
    )]
    pub fn delete() {}
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

    fn post(body: &str) -> Request<Body> {
        Request::post(PATH)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn malformed_json_rpc_is_answered_with_json_rpc_errors() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for (body, status, code) in [
            ("{not json", StatusCode::BAD_REQUEST, -32700),
            ("[]", StatusCode::BAD_REQUEST, -32600),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                StatusCode::BAD_REQUEST,
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
                StatusCode::BAD_REQUEST,
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
                StatusCode::BAD_REQUEST,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[]}}"#,
                StatusCode::BAD_REQUEST,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":5}"#,
                StatusCode::BAD_REQUEST,
                -32602,
            ),
        ] {
            let (got, _, answer) = send(app.clone(), post(body)).await;
            assert_eq!(got, status, "{body}: {answer}");
            assert_eq!(answer["jsonrpc"], "2.0", "{body}");
            assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        }
        let (_, _, answer) = send(
            app.clone(),
            post(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}}"#),
        )
        .await;
        assert_eq!(answer["id"], 9);
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("`name`")),
            "{answer}"
        );
        let plain = Request::post(PATH)
            .header("content-type", "text/plain")
            .body(Body::from("{}"))
            .expect("request");
        let (status, _, answer) = send(app, plain).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(answer["error"]["code"], -32600);
    }

    #[tokio::test]
    async fn sessions_are_bounded_per_client_with_a_json_rpc_error() {
        let (mut state, _db, _dir) = state().await;
        let mut config = (*state.config).clone();
        config.server.mcp_max_sessions_per_client = 2;
        state.config = Arc::new(config);
        let app = crate::app(state);
        for _ in 0..2 {
            let response = tower::ServiceExt::oneshot(app.clone(), initialize(None))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let (status, _, answer) = send(app, initialize(None)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["id"], 1);
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("mcp_max_sessions_per_client")),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn sessions_are_bounded_overall() {
        let (mut state, _db, _dir) = state().await;
        let mut config = (*state.config).clone();
        config.server.mcp_max_sessions = 1;
        state.config = Arc::new(config);
        let app = crate::app(state);
        let response = tower::ServiceExt::oneshot(app.clone(), initialize(None))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let (status, _, answer) = send(app, initialize(None)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
        assert_eq!(answer["error"]["code"], -32000);
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
