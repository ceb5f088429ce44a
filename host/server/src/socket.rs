//! Socket.IO (socketioxide) on `/socket.io/`, websocket and polling transports. On connect
//! the server announces itself and its services (`connected`); `test_event` is answered with
//! `test_response` and `ping` with `pong`. A payload of the wrong shape is answered with an
//! `error` event `{message}`; the connection stays up. Changes of the live plugin set are
//! broadcast to every client as `plugin_loaded`, `plugin_unloaded` and `plugin_error`, and
//! job changes as `job_created`, `job_update`, `job_completed` and `job_failed`
//! (`{job, timestamp}`, see [`crate::jobs`]).
//!
//! Chat (`mama_bear_chat`), terminal sessions, workspaces and `batch_events` are handled in
//! `socket/` behind one dispatcher ([`events`]); operator notices go out with [`msgprint`].

use std::convert::Infallible;
use std::sync::Arc;

use crate::cluster::socket_bus::Adapter;
use crate::cluster::socket_bus::Io;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};
use tower::layer::util::Stack;

use crate::api::health;
use crate::clock;
use crate::plugins::PluginEvent;
use crate::state::AppState;
use crate::workspace::Workspaces;

mod chat;
mod events;
mod notice;
mod terminal;
mod workspaces;

pub use notice::msgprint;

/// Packets buffered per connection before `emit` refuses more (`[socketio]
/// max_buffer_size`'s default).
pub use crate::config::SOCKET_BUFFER_PACKETS;

/// The path Socket.IO clients use (`io(url, { path: '/socket.io/' })`).
pub const PATH: &str = "/socket.io";

/// The Socket.IO layer, carrying what keeps its plugin-event forwarder running.
pub type Layer = Stack<SocketIoLayer<Adapter>, Extension<Arc<ForwarderGuard>>>;

/// The Socket.IO layer to put on the router, and the handle to emit from elsewhere. Also
/// starts forwarding the live set's [`PluginEvent`]s to every client; the forwarder stops
/// when the last router carrying the layer is dropped, or when the plugin host is.
pub fn layer(state: AppState) -> (Layer, Io) {
    let events = state.plugins.subscribe();
    let job_events = state.jobs.subscribe();
    let workspaces = Arc::new(Workspaces::new());
    let limits = state.config.socketio;
    let bus = crate::cluster::socket_bus::adapter_state(
        state.cluster.socket_bus(),
        state.cluster.prefix(),
    );
    let (layer, io) = socketioxide::SocketIo::builder()
        .req_path(PATH)
        // A streamed answer is many small `ai_progress` packets; a long-polling client
        // collects them between polls, so the per-connection buffer must hold a whole
        // answer (socketioxide's default of 128 drops the rest, and the final response).
        // `[socketio]`; the defaults are the seeds' (1 MB messages, 60 s / 25 s pings).
        .max_buffer_size(limits.max_buffer_size)
        .max_payload(limits.max_payload)
        .ping_timeout(std::time::Duration::from_millis(limits.ping_timeout_ms))
        .ping_interval(std::time::Duration::from_millis(limits.ping_interval_ms))
        .with_state(state)
        .with_state(workspaces.clone())
        .with_adapter::<Adapter>(bus)
        .build_layer();
    let stop = CancellationToken::new();
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            // The namespace exists once its adapter has subscribed to the other nodes'
            // channels: at once alone, after a few Redis round trips with Redis.
            let init = io.ns("/", on_connect.with(register_handlers));
            runtime.spawn(async move {
                if let Err(err) = init.await {
                    tracing::error!(cause = %err, "Socket.IO could not subscribe to Redis; its clients are refused");
                }
            });
            runtime.spawn(forward_plugin_events(
                io.clone(),
                events,
                workspaces,
                stop.clone(),
            ));
            runtime.spawn(crate::jobs::events::forward_to_socketio(
                io.clone(),
                job_events,
                stop.clone(),
            ));
        }
        Err(_) => tracing::warn!("no tokio runtime: Socket.IO is not served"),
    }
    // The forwarder holds `io` (and through it the app state), so it cannot watch for the
    // app going away by itself; the guard lives in the router's services instead, and its
    // drop tells the forwarder to stop.
    let guard = Extension(Arc::new(ForwarderGuard {
        _stop: stop.drop_guard(),
    }));
    (Stack::new(layer, guard), io)
}

/// Stops the event forwarders of one [`layer`] (plugin events, and
/// [`crate::jobs::events::forward_to_socketio`]) when dropped.
#[derive(Debug)]
pub struct ForwarderGuard {
    _stop: DropGuard,
}

/// The next event from `events` for a forwarder, `None` once `stop` is cancelled or the
/// channel closes. Events lost to lagging behind are skipped with a warning naming `what`.
pub(crate) async fn next_event<T: Clone>(
    events: &mut broadcast::Receiver<T>,
    stop: &CancellationToken,
    what: &str,
) -> Option<T> {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return None,
            received = events.recv() => received,
        };
        match received {
            Ok(event) => return Some(event),
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(
                    skipped,
                    "socket.io fell behind the {what}; some were not sent"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// Emits every plugin event to all clients until `stop` fires or the channel closes; also
/// as a `workspace_update` to every workspace room, and as an operator notice (`msgprint`).
async fn forward_plugin_events(
    io: Io,
    mut events: broadcast::Receiver<PluginEvent>,
    workspaces: Arc<Workspaces>,
    stop: CancellationToken,
) {
    while let Some(event) = next_event(&mut events, &stop, "plugin events").await {
        let (name, payload) = plugin_event(&event);
        let Some(clients) = io.of("/").map(|ns| ns.local()) else {
            break;
        };
        if let Err(err) = clients.emit(name, &payload).await {
            tracing::debug!(event = name, %err, "socket.io broadcast failed for some clients");
        }
        workspaces::plugin_event(&io, &workspaces, name, &payload).await;
        let (notice, level) = notice::plugin_notice(&event);
        msgprint(&io, &notice, level).await;
    }
    tracing::debug!("plugin event forwarding stopped");
}

/// A plugin event as Socket.IO sends it: its name and `{id, kind?, version?, replaced?,
/// error?, timestamp}`.
fn plugin_event(event: &PluginEvent) -> (&'static str, Value) {
    let timestamp = clock::timestamp();
    match event {
        PluginEvent::PluginLoaded {
            id,
            kind,
            version,
            replaced,
        } => (
            "plugin_loaded",
            json!({
                "id": id,
                "kind": kind,
                "version": version,
                "replaced": replaced,
                "timestamp": timestamp,
            }),
        ),
        PluginEvent::PluginUnloaded { id } => (
            "plugin_unloaded",
            json!({ "id": id, "timestamp": timestamp }),
        ),
        PluginEvent::PluginError { id, error } => (
            "plugin_error",
            json!({ "id": id, "error": error, "timestamp": timestamp }),
        ),
    }
}

/// Registers the event handlers. A middleware rather than the connect handler: it runs
/// before the client is told it is connected, so an event it sends straight away cannot
/// arrive before its handler exists.
async fn register_handlers(
    socket: SocketRef<Adapter>,
    State(state): State<AppState>,
) -> Result<(), Infallible> {
    // Who it is (a `sid` cookie or key), known before any event arrives.
    crate::auth::guard::identify_socket(&socket, &state).await;
    socket.on("test_event", on_test_event);
    socket.on("ping", on_ping);
    events::register(&socket);
    Ok(())
}

async fn on_connect(socket: SocketRef<Adapter>, State(state): State<AppState>) {
    tracing::debug!(sid = %socket.id, "socket.io client connected");
    // Counted while the socket lives: the guard goes when socketioxide drops the socket.
    socket
        .extensions
        .insert(Arc::new(state.metrics.socket_connected()));
    let services = health::services(&state).await;
    emit(
        &socket,
        "connected",
        &connected(&socket.id.to_string(), services),
    );
}

/// `connected`: the seeds' `{status, services}` plus the socket id and a timestamp.
fn connected(sid: &str, services: Value) -> Value {
    json!({
        "status": "success",
        "message": "Connected to Podplay Sanctuary",
        "sid": sid,
        "services": services,
        "timestamp": clock::timestamp(),
    })
}

async fn on_test_event(socket: SocketRef<Adapter>, TryData(data): TryData<Value>) {
    if !events::within_limit(&socket, "test_event").await {
        return;
    }
    // Any payload is fine, none included.
    let data = data.unwrap_or(Value::Null);
    emit(&socket, "test_response", &test_response(data));
}

fn test_response(data: Value) -> Value {
    json!({
        "status": "success",
        "message": "Test event processed successfully",
        "data": data,
        "timestamp": clock::timestamp(),
    })
}

/// `ping` payload: the client's clock, echoed back.
#[derive(Debug, Deserialize)]
struct Ping {
    timestamp: Value,
}

/// `pong` payload.
#[derive(Debug, Serialize)]
struct Pong {
    timestamp: Value,
    server_time: String,
}

async fn on_ping(socket: SocketRef<Adapter>, TryData(ping): TryData<Ping>) {
    if !events::within_limit(&socket, "ping").await {
        return;
    }
    match ping {
        Ok(Ping { timestamp }) => emit(
            &socket,
            "pong",
            &Pong {
                timestamp,
                server_time: clock::timestamp(),
            },
        ),
        Err(err) => bad_payload(&socket, "ping", "{timestamp}", &err),
    }
}

/// Answers a payload of the wrong shape with `error {message}`; the socket stays connected.
fn bad_payload(
    socket: &SocketRef<Adapter>,
    event: &str,
    expected: &str,
    err: &dyn std::fmt::Display,
) {
    tracing::debug!(sid = %socket.id, event, %err, "bad socket.io payload");
    emit(
        socket,
        "error",
        &json!({ "message": format!("invalid `{event}` payload, expected {expected}: {err}") }),
    );
}

fn emit<T: Serialize + ?Sized>(socket: &SocketRef<Adapter>, event: &str, data: &T) {
    if let Err(err) = socket.emit(event, data) {
        // The client went away or its buffer is full: nothing to answer.
        tracing::debug!(sid = %socket.id, event, %err, "socket.io emit failed");
    }
}

#[cfg(test)]
mod tests {
    //! A real server on 127.0.0.1:0 and a minimal Socket.IO v4 client speaking the wire
    //! protocol over a websocket (engine.io `0`/`2`/`3`/`4x` packets).

    use std::time::Duration;

    use futures::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    use super::*;
    use crate::api::test_support;

    struct Client {
        ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    }

    impl Client {
        async fn connect(addr: std::net::SocketAddr) -> Client {
            let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("websocket");
            let mut client = Client { ws };
            let open = client.next_text().await;
            assert!(open.starts_with('0'), "engine.io open: {open}");
            client.send("40").await;
            let ack = client.next_text().await;
            assert!(ack.starts_with("40"), "socket.io connect: {ack}");
            client
        }

        async fn send(&mut self, text: &str) {
            self.ws.send(Message::text(text)).await.expect("send");
        }

        async fn emit(&mut self, event: &str, data: Value) {
            self.send(&format!("42{}", json!([event, data]))).await;
        }

        /// The next text frame, answering engine.io pings on the way.
        async fn next_text(&mut self) -> String {
            loop {
                let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                    .await
                    .expect("a message within 10 s")
                    .expect("the socket is open")
                    .expect("a frame");
                if let Message::Text(text) = message {
                    if text.as_str() == "2" {
                        self.send("3").await;
                        continue;
                    }
                    return text.as_str().to_owned();
                }
            }
        }

        /// The next event: its name and first argument.
        async fn next_event(&mut self) -> (String, Value) {
            let text = self.next_text().await;
            let payload = text
                .strip_prefix("42")
                .unwrap_or_else(|| panic!("an event: {text}"));
            let array: Vec<Value> = serde_json::from_str(payload).expect("JSON array");
            let name = array[0].as_str().expect("event name").to_owned();
            (name, array.get(1).cloned().unwrap_or(Value::Null))
        }
    }

    async fn server() -> (std::net::SocketAddr, test_support::Guards) {
        let (state, db, dir) = test_support::state().await;
        let (layer, _io) = super::layer(state.clone());
        let app = crate::api::router(state).layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, (db, dir))
    }

    #[tokio::test]
    async fn a_new_client_is_told_it_is_connected_with_the_services() {
        let (addr, _guards) = server().await;
        let mut client = Client::connect(addr).await;
        let (event, data) = client.next_event().await;
        assert_eq!(event, "connected");
        assert_eq!(data["status"], "success");
        assert!(data["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
        assert!(data["services"].is_object(), "{data}");
        assert_eq!(data["services"]["database"], "operational");
        assert!(data["timestamp"].is_string());
    }

    #[tokio::test]
    async fn test_event_is_answered_with_its_data() {
        let (addr, _guards) = server().await;
        let mut client = Client::connect(addr).await;
        // Sent before `connected` is read: handlers exist as soon as the client is in.
        client
            .emit("test_event", json!({"message": "Hello from frontend"}))
            .await;
        let mut events = [client.next_event().await, client.next_event().await];
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let (event, data) = &events[1];
        assert_eq!(event, "test_response");
        assert_eq!(data["status"], "success");
        assert_eq!(data["message"], "Test event processed successfully");
        assert_eq!(data["data"], json!({"message": "Hello from frontend"}));
    }

    #[tokio::test]
    async fn test_event_without_data_answers_null_data() {
        let (addr, _guards) = server().await;
        let mut client = Client::connect(addr).await;
        assert_eq!(client.next_event().await.0, "connected");
        client.send(r#"42["test_event"]"#).await;
        let (event, data) = client.next_event().await;
        assert_eq!(event, "test_response");
        assert_eq!(data["data"], Value::Null);
    }

    #[tokio::test]
    async fn ping_is_answered_with_pong_and_the_server_time() {
        let (addr, _guards) = server().await;
        let mut client = Client::connect(addr).await;
        assert_eq!(client.next_event().await.0, "connected");
        client
            .emit("ping", json!({"timestamp": 1_700_000_000_000_u64}))
            .await;
        let (event, data) = client.next_event().await;
        assert_eq!(event, "pong");
        assert_eq!(data["timestamp"], 1_700_000_000_000_u64);
        assert!(data["server_time"].is_string());
    }

    #[tokio::test]
    async fn a_malformed_ping_gets_an_error_and_the_socket_stays_usable() {
        let (addr, _guards) = server().await;
        let mut client = Client::connect(addr).await;
        assert_eq!(client.next_event().await.0, "connected");
        client.emit("ping", json!("not an object")).await;
        let (event, data) = client.next_event().await;
        assert_eq!(event, "error");
        let message = data["message"].as_str().expect("a message");
        assert!(message.contains("ping"), "{message}");
        client.emit("test_event", json!(1)).await;
        let (event, data) = client.next_event().await;
        assert_eq!(event, "test_response");
        assert_eq!(data["data"], 1);
    }

    #[tokio::test]
    async fn the_polling_transport_answers_the_handshake_on_the_socket_io_path() {
        let (state, _db, _dir) = test_support::state().await;
        let (layer, _io) = super::layer(state.clone());
        let app = crate::api::router(state).layer(layer);
        let (status, _, _) = test_support::send(
            app.clone(),
            test_support::get("/socket.io/?EIO=4&transport=polling"),
        )
        .await;
        assert_eq!(status, axum::http::StatusCode::OK);
        let response = tower::ServiceExt::oneshot(
            app,
            test_support::get("/socket.io/?EIO=4&transport=polling"),
        )
        .await
        .expect("response");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("0{") && text.contains("\"sid\""), "{text}");
    }

    #[test]
    fn plugin_events_carry_their_id_and_what_happened() {
        let (name, body) = plugin_event(&PluginEvent::PluginLoaded {
            id: "time".into(),
            kind: crate::manifest::Kind::McpServer,
            version: "1.2.0".into(),
            replaced: Some("1.1.0".into()),
        });
        assert_eq!(name, "plugin_loaded");
        assert_eq!(body["id"], "time");
        assert_eq!(body["kind"], "mcp-server");
        assert_eq!(body["version"], "1.2.0");
        assert_eq!(body["replaced"], "1.1.0");
        assert!(body["timestamp"].is_string());

        let (name, body) = plugin_event(&PluginEvent::PluginUnloaded { id: "time".into() });
        assert_eq!(name, "plugin_unloaded");
        assert_eq!(body["id"], "time");
        assert!(body.get("error").is_none());

        let (name, body) = plugin_event(&PluginEvent::PluginError {
            id: "time".into(),
            error: "sha256 mismatch".into(),
        });
        assert_eq!(name, "plugin_error");
        assert_eq!(body["error"], "sha256 mismatch");
    }

    #[tokio::test]
    async fn the_forwarder_stops_when_the_app_is_dropped() {
        let (state, _db, _dir) = test_support::state().await;
        // The references the state holds itself (its chat handle shares the plugins).
        let alone = Arc::strong_count(&state.plugins);
        let (layer, io) = super::layer(state.clone());
        let app = crate::api::router(state.clone()).layer(layer);
        drop(io);
        assert!(
            Arc::strong_count(&state.plugins) > alone,
            "the app holds the state"
        );
        drop(app);
        // The forwarder holds the Socket.IO handle and through it the state: once it has
        // stopped, only the test's copy is left.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&state.plugins) > alone {
            assert!(
                std::time::Instant::now() < deadline,
                "the forwarder kept the app state alive"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn payload_builders_follow_the_seed_shapes() {
        let body = connected("abc", json!({"database": "operational"}));
        assert_eq!(body["status"], "success");
        assert_eq!(body["sid"], "abc");
        let body = test_response(json!([1]));
        assert_eq!(body["message"], "Test event processed successfully");
        assert_eq!(body["data"], json!([1]));
    }
}
