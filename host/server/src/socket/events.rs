//! The chat, terminal, workspace and batch events, behind one dispatcher: every event name
//! of [`EVENTS`] is registered with the same thin handler, which hands the event to
//! [`dispatch`]; `batch_events` hands each of its items to the same function, so an event
//! in a batch is handled exactly as if it had been sent alone.
//!
//! Every event (each item of a batch included, over websocket and polling alike) is taken
//! from the client's rate limit ([`within_limit`]); over it, the event is not handled and
//! the client gets `error {message, event, limit, retry_after_ms}`, staying connected. An
//! event with no handler gets `error` naming it.

use std::sync::Arc;

use crate::cluster::socket_bus::Adapter;
use crate::cluster::socket_bus::Io;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{Event, SocketRef, State, TryData};

use super::{chat, terminal, workspaces};
use crate::state::AppState;
use crate::workspace::Workspaces;

/// The events registered here.
pub const EVENTS: [&str; 7] = [
    "mama_bear_chat",
    "join_terminal",
    "terminal_input",
    "leave_terminal",
    "workspace_subscribe",
    "workspace_unsubscribe",
    "batch_events",
];

/// Most events one `batch_events` may carry.
pub const MAX_BATCH: usize = 50;

/// What a handler works with.
pub struct Ctx {
    /// The client.
    pub socket: SocketRef<Adapter>,
    /// The server, for room broadcasts.
    pub io: Io,
    /// The app.
    pub state: AppState,
    /// Workspace subscriptions.
    pub workspaces: Arc<Workspaces>,
}

/// Registers [`EVENTS`] and the disconnect clean-up on `socket`.
pub fn register(socket: &SocketRef<Adapter>) {
    for event in EVENTS {
        socket.on(event, on_event);
    }
    socket.on_fallback(on_unknown);
    socket.on_disconnect(workspaces::on_disconnect);
}

async fn on_event(
    socket: SocketRef<Adapter>,
    io: Io,
    State(state): State<AppState>,
    State(workspaces): State<Arc<Workspaces>>,
    Event(event): Event,
    TryData(data): TryData<Value>,
) {
    let ctx = Ctx {
        socket,
        io,
        state,
        workspaces,
    };
    // No payload at all reads as `null`; each handler says what it expected.
    dispatch(&ctx, &event, data.unwrap_or(Value::Null)).await;
}

/// An event nobody handles: `error` naming it (counted like any other event).
async fn on_unknown(socket: SocketRef<Adapter>, Event(event): Event) {
    if !within_limit(&socket, &event).await {
        return;
    }
    let shown = crate::logsafe::safe(&event);
    tracing::debug!(sid = %socket.id, event = %shown, "unknown socket.io event");
    super::emit(
        &socket,
        "error",
        &json!({
            "message": format!("unknown event `{shown}`"),
            "event": shown,
            "events": EVENTS.iter().chain(["test_event", "ping"].iter()).collect::<Vec<_>>(),
        }),
    );
}

/// Takes one event from the client's rate limit (the same bucket as its HTTP requests);
/// when none is left, tells the client with `error` naming the limit and returns `false`.
pub async fn within_limit(socket: &SocketRef<Adapter>, event: &str) -> bool {
    let Some(limit) = socket
        .req_parts()
        .extensions
        .get::<crate::auth::ratelimit::ClientLimit>()
    else {
        return true;
    };
    let Err(wait) = limit.check().await else {
        return true;
    };
    tracing::debug!(sid = %socket.id, event = %crate::logsafe::Safe(event), "socket.io event rate limited");
    super::emit(
        socket,
        "error",
        &json!({
            "message": format!(
                "rate limit: `{}` was not handled. {}",
                crate::logsafe::safe(event),
                limit.limiter().refusal().replace(" in Retry-After", " in retry_after_ms")
            ),
            "event": event,
            "limit": "rate_limit",
            "per_second": limit.limiter().per_second(),
            "burst": limit.limiter().burst(),
            "retry_after_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        }),
    );
    false
}

/// Handles `event` with `data`.
pub async fn dispatch(ctx: &Ctx, event: &str, data: Value) {
    if event == "batch_events" {
        batch(ctx, data).await;
    } else {
        single(ctx, event, data).await;
    }
}

/// Handles one event that is not a batch, if the client's rate limit allows.
async fn single(ctx: &Ctx, event: &str, data: Value) {
    if !within_limit(&ctx.socket, event).await {
        return;
    }
    match event {
        "mama_bear_chat" if !crate::auth::guard::socket_may_chat(&ctx.socket, &ctx.state) => {}
        "mama_bear_chat" => chat::mama_bear_chat(ctx, data).await,
        "join_terminal" => terminal::join(ctx, data).await,
        "terminal_input" => terminal::input(ctx, data).await,
        "leave_terminal" => terminal::leave(ctx, data).await,
        "workspace_subscribe" => workspaces::subscribe(ctx, data).await,
        "workspace_unsubscribe" => workspaces::unsubscribe(ctx, data).await,
        "test_event" => super::emit(&ctx.socket, "test_response", &super::test_response(data)),
        "ping" => match serde_json::from_value::<super::Ping>(data) {
            Ok(super::Ping { timestamp }) => super::emit(
                &ctx.socket,
                "pong",
                &super::Pong {
                    timestamp,
                    server_time: crate::clock::timestamp(),
                },
            ),
            Err(err) => bad_payload(&ctx.socket, "ping", "{timestamp}", &err),
        },
        "batch_events" => bad_payload(
            &ctx.socket,
            "batch_events",
            "events other than batch_events inside a batch",
            &"batches cannot be nested",
        ),
        other => bad_payload(
            &ctx.socket,
            other,
            "a known event",
            &format!("no event named `{other}`"),
        ),
    }
}

/// One item of `batch_events`.
#[derive(Debug, Deserialize)]
struct BatchItem {
    event: String,
    #[serde(default)]
    data: Value,
}

/// `batch_events` `[{event, data}]` (or `{events: [...]}`): each item in order.
async fn batch(ctx: &Ctx, data: Value) {
    let items = match data {
        Value::Object(mut fields) => fields.remove("events").unwrap_or(Value::Null),
        other => other,
    };
    let items: Vec<BatchItem> = match serde_json::from_value(items) {
        Ok(items) => items,
        Err(err) => return bad_payload(&ctx.socket, "batch_events", "[{event, data}]", &err),
    };
    if items.len() > MAX_BATCH {
        let err = format!("{} events, at most {MAX_BATCH}", items.len());
        return bad_payload(&ctx.socket, "batch_events", "[{event, data}]", &err);
    }
    for item in items {
        single(ctx, &item.event, item.data).await;
    }
}

/// Waits while the plugins load at start-up, at most `[health] startup_wait_ms`, so an
/// event that calls plugins meets the whole set, as an HTTP request does.
pub async fn wait_for_plugins(ctx: &Ctx) {
    let limit = std::time::Duration::from_millis(ctx.state.config.health.startup_wait_ms);
    ctx.state.plugins.wait_started(limit).await;
}

/// Answers a payload of the wrong shape with `error {message, event}`; the socket stays
/// connected.
pub fn bad_payload(
    socket: &SocketRef<Adapter>,
    event: &str,
    expected: &str,
    err: &dyn std::fmt::Display,
) {
    tracing::debug!(sid = %socket.id, event, %err, "bad socket.io payload");
    super::emit(
        socket,
        "error",
        &json!({
            "message": format!("invalid `{event}` payload, expected {expected}: {err}"),
            "event": event,
        }),
    );
}

/// A required non-empty string field of `data`, or the reason it is not there.
pub fn required_str<'a>(data: &'a Value, field: &str) -> Result<&'a str, String> {
    match data.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{field}` must not be empty")),
        None | Some(Value::Null) => Err(format!("`{field}` is required")),
        Some(other) => Err(format!(
            "`{field}` must be a string, not {}",
            crate::chat::json_type(other)
        )),
    }
}
