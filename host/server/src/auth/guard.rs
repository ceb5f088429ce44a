//! The two middleware layers of authentication.
//!
//! [`outer`] wraps the whole application (Socket.IO included, inside CORS): it resolves the
//! request's credential once and keeps it in the request's extensions, then applies the
//! rate limit, per credential when valid, else per client address; `/health` and
//! `/metrics` are exempt. [`gate`] wraps the API routes (and so every request of a batch):
//! with `[auth] open_read = false` a GET needs a valid credential, except `/`, `/health`,
//! `/api/dev/ping` and the auth routes; with `open_chat = false` so do the chat routes, and
//! with `open_tools = false` the MCP endpoint and the REST tool calls (Socket.IO terminal
//! commands check the same).

use std::sync::Arc;

use crate::cluster::socket_bus::Adapter;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use socketioxide::extract::SocketRef;

use super::principal::{self, Resolved};
use super::ratelimit::{ClientLimit, Limiter};
use crate::error::{ApiError, EnvelopeError, Surface};
use crate::state::AppState;

/// Paths no rate limit applies to: liveness, readiness and metrics scrapes.
pub(crate) const UNLIMITED: [&str; 4] = ["/health", "/health/live", "/health/ready", "/metrics"];

/// GET paths open even when reading is closed (load balancers probe the last two).
pub(crate) const ALWAYS_OPEN: [&str; 5] = [
    "/",
    "/health",
    "/api/dev/ping",
    "/health/live",
    "/health/ready",
];

/// What [`outer`] works with.
#[derive(Clone)]
struct Outer {
    state: AppState,
    limiter: Option<Arc<Limiter>>,
}

/// `router` behind [`outer`], with a rate limiter built from the state's configuration.
pub fn outer(router: Router, state: &AppState) -> Router {
    let limiter = Limiter::new(&state.config.rate_limit).map(|limiter| {
        Arc::new(limiter.shared_through(state.cluster.commands(), state.cluster.prefix()))
    });
    if let Some(limiter) = &limiter {
        tracing::info!(
            per_second = limiter.per_second(),
            burst = limiter.burst(),
            across_nodes = limiter.is_shared(),
            "rate limits on"
        );
    }
    router.layer(from_fn_with_state(
        Outer {
            state: state.clone(),
            limiter,
        },
        resolve_and_limit,
    ))
}

async fn resolve_and_limit(State(outer): State<Outer>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let resolved = principal::resolve(&parts.headers, &outer.state).await;
    if let Some(limiter) = &outer.limiter {
        let bucket = match resolved.principal() {
            Some(principal) => principal.bucket(),
            None => limiter.address_bucket(&parts),
        };
        if !UNLIMITED.contains(&parts.uri.path())
            && !is_socketio_session(&parts)
            && let Err(wait) = limiter.check(&bucket).await
        {
            tracing::debug!(bucket = %crate::logsafe::Safe(&bucket), "rate limited");
            return ApiError::too_many_requests(limiter.refusal(), wait).into_response();
        }
        parts
            .extensions
            .insert(ClientLimit::new(limiter.clone(), bucket));
    }
    // Plugin calls made for this request know whom they serve (warm instances of
    // plugins that allow reuse are never shared between callers).
    let caller = match resolved.principal() {
        Some(principal) => Some(principal.bucket()),
        None => anonymous_caller(&parts, outer.limiter.as_deref()),
    };
    parts.extensions.insert(resolved);
    let response = next.run(Request::from_parts(parts, body));
    match caller {
        Some(caller) => sanctuary_runtime::caller::scope(caller.into(), response).await,
        None => response.await,
    }
}

/// The caller key of a request without a valid credential: its client address (as the
/// rate limiter sees it, forwarded addresses included when trusted); `None` when the
/// address is unknown.
fn anonymous_caller(
    parts: &axum::http::request::Parts,
    limiter: Option<&Limiter>,
) -> Option<String> {
    if let Some(limiter) = limiter {
        return Some(limiter.address_bucket(parts)).filter(|b| b != "shared");
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(addr)| format!("ip:{}", addr.ip()))
}

/// A request of an open Engine.IO session (`/socket.io/?sid=…`): not counted itself,
/// since each Socket.IO event it carries is (see [`crate::socket`]); the handshake that
/// opens a session is.
fn is_socketio_session(parts: &axum::http::request::Parts) -> bool {
    parts.uri.path().starts_with(crate::socket::PATH)
        && parts
            .uri
            .query()
            .is_some_and(|query| query.split('&').any(|pair| pair.starts_with("sid=")))
}

/// `routes` behind [`gate`]; nothing when reading and chat are both open.
pub fn gate(routes: Router, state: &AppState) -> Router {
    let auth = &state.config.auth;
    if auth.open_read && auth.open_chat && auth.open_tools {
        return routes;
    }
    routes.layer(from_fn_with_state(state.clone(), check_gate))
}

async fn check_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let auth = &state.config.auth;
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    let needed = if !auth.open_chat && is_chat(path) {
        Some("Chat needs a credential here ([auth] open_chat = false)")
    } else if !auth.open_tools && is_tools(path) {
        Some("Calling plugin tools needs a credential here ([auth] open_tools = false)")
    } else if !auth.open_read && reading && !is_open(path) {
        Some("Reading needs a credential here ([auth] open_read = false)")
    } else {
        None
    };
    let Some(needed) = needed else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let resolved = principal::resolved(&mut parts, &state).await;
    match resolved.require_any(needed) {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        // The envelope routes refuse in their envelope, as their own extractors do.
        Err(err) if Surface::of(parts.uri.path()) == Surface::Envelope => {
            EnvelopeError::from(err).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// The chat routes: the seeds' chat and sessions, streaming, and the OpenAI-compatible
/// completions.
pub fn is_chat(path: &str) -> bool {
    path.starts_with("/api/chat/") || path == "/v1/chat/completions"
}

/// The routes that call plugin tools: the MCP endpoint and the REST tool call
/// `/api/mcp/servers/{server_name}/tools/{tool}`.
pub fn is_tools(path: &str) -> bool {
    if path == "/mcp" || path.starts_with("/mcp/") {
        return true;
    }
    path.strip_prefix("/api/mcp/servers/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, rest)| rest.starts_with("tools/"))
}

/// GET paths that stay open when reading is closed: liveness, and the auth routes (which
/// answer for themselves).
pub(crate) fn is_open(path: &str) -> bool {
    ALWAYS_OPEN.contains(&path)
        || path.starts_with("/api/auth/")
        || path.starts_with("/api/method/oropendola.auth.")
}

/// Reads a Socket.IO client's credential from its handshake request (the `sid` cookie or
/// a bearer key) and keeps it with the socket. Anonymous clients stay connected.
pub async fn identify_socket(socket: &SocketRef<Adapter>, state: &AppState) {
    let resolved = principal::resolve(&socket.req_parts().headers, state).await;
    match &resolved {
        Resolved::Valid(principal) => {
            tracing::info!(sid = %socket.id, who = %principal.describe(), "socket.io client authenticated");
        }
        Resolved::Invalid(why) => {
            tracing::debug!(sid = %socket.id, why, "socket.io client sent a credential that is not valid");
        }
        Resolved::Anonymous | Resolved::Unavailable => {}
    }
    socket.extensions.insert(resolved);
}

/// Whether a Socket.IO client may chat: chat is open, or it connected with a valid
/// credential. When it may not, it is told with `chat_error` (code `unauthorized`).
pub fn socket_may_chat(socket: &SocketRef<Adapter>, state: &AppState) -> bool {
    if state.config.auth.open_chat
        || socket
            .extensions
            .get::<Resolved>()
            .is_some_and(|resolved| resolved.principal().is_some())
    {
        return true;
    }
    let text = "Chat needs a credential here ([auth] open_chat = false): connect with a `sid` session cookie or `Authorization: Bearer <key>`";
    let reply = serde_json::json!({
        "error": text,
        "message": text,
        "session_id": null,
        "code": "unauthorized",
        "timestamp": crate::clock::timestamp(),
    });
    if let Err(err) = socket.emit("chat_error", &reply) {
        tracing::debug!(sid = %socket.id, %err, "socket.io emit failed");
    }
    false
}

/// Whether a Socket.IO client may run terminal commands (plugin tool calls): tools are
/// open, or it connected with a valid credential. When it may not, it is told with
/// `terminal_output` carrying the reason, like any refused command.
pub fn socket_may_use_tools(socket: &SocketRef<Adapter>, state: &AppState) -> bool {
    state.config.auth.open_tools
        || socket
            .extensions
            .get::<Resolved>()
            .is_some_and(|resolved| resolved.principal().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_and_open_paths_are_recognised() {
        for path in [
            "/api/chat/mama-bear",
            "/api/chat/vertex-garden/chat",
            "/api/chat/sessions",
            "/api/chat/stream",
            "/v1/chat/completions",
        ] {
            assert!(is_chat(path), "{path}");
        }
        assert!(!is_chat("/api/chatter") && !is_chat("/v1/models"));
        assert!(is_tools("/mcp") && is_tools("/mcp/") && !is_tools("/api/mcp/servers"));
        assert!(is_tools("/api/mcp/servers/time/tools/current_time"));
        assert!(!is_tools("/api/mcp/servers/time/install"));
        for path in [
            "/",
            "/health",
            "/api/dev/ping",
            "/api/auth/verify_session",
            "/health/live",
            "/health/ready",
        ] {
            assert!(is_open(path), "{path}");
        }
        assert!(!is_open("/health/detailed") && !is_open("/api/plugins"));
    }
}
