//! An in-process server (`sanctuary::app` over `AppState::start`, on 127.0.0.1:0, over a
//! temporary data directory) and a minimal Socket.IO v4 client speaking the wire protocol
//! over a websocket (engine.io `0`/`2`/`3`/`4x` packets).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sanctuary::{AppState, Config};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Compiled components are cached here across tests and runs.
pub const CACHE_DIR: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache");

/// How long any awaited message may take before the test fails (a hang, not a speed limit).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running app.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The app's state.
    pub state: AppState,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts the app over `data` (its database and plugins live there), with `edit`
    /// applied to the configuration.
    pub async fn start_in(data: &Path, edit: impl FnOnce(&mut Config)) -> Server {
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: data.to_path_buf(),
            database_url: format!("sqlite://{}/sanctuary.db?mode=rwc", data.display()),
            cache_dir: CACHE_DIR.into(),
            ..Config::default()
        };
        config.scout.projects = Vec::new();
        edit(&mut config);
        let state = AppState::start(config).await.expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = sanctuary::app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            addr,
            client: reqwest::Client::new(),
            state,
            task,
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON body: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A connected Socket.IO client that has seen `connected`.
    pub async fn socket(&self) -> Client {
        let mut client = Client::connect(self.addr).await;
        client.wait_for("connected").await;
        client
    }

    /// Stops serving (open connections are cut).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// A temporary data directory and a server over it.
pub struct Fixture {
    /// The server.
    pub server: Server,
    /// Its data directory, removed when the fixture is dropped.
    _data: TempDir,
}

/// A server over a fresh data directory.
pub async fn start(edit: impl FnOnce(&mut Config)) -> Fixture {
    let data = TempDir::new().expect("tempdir");
    let server = Server::start_in(data.path(), edit).await;
    Fixture {
        server,
        _data: data,
    }
}

/// A scout project named `name` in `dir`.
pub fn project(name: &str, dir: &Path) -> sanctuary::config::ProjectConfig {
    sanctuary::config::ProjectConfig {
        name: name.into(),
        path: PathBuf::from(dir),
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Socket.IO client on the default namespace.
pub struct Client {
    ws: Ws,
}

impl Client {
    /// Connects over a websocket and joins the `/` namespace.
    pub async fn connect(addr: SocketAddr) -> Client {
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

    /// Emits `event` with `data`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data]))).await;
    }

    /// The next text frame, answering engine.io pings on the way.
    async fn next_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a message in time")
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
    pub async fn next_event(&mut self) -> (String, Value) {
        loop {
            let text = self.next_text().await;
            let Some(payload) = text.strip_prefix("42") else {
                continue;
            };
            let array: Vec<Value> = serde_json::from_str(payload).expect("a JSON array");
            let name = array[0].as_str().expect("an event name").to_owned();
            return (name, array.get(1).cloned().unwrap_or(Value::Null));
        }
    }

    /// Skips events until one named `name`; its data.
    pub async fn wait_for(&mut self, name: &str) -> Value {
        loop {
            let (event, data) = self.next_event().await;
            if event == name {
                return data;
            }
        }
    }

    /// Skips events until one named `name` whose data satisfies `pred`.
    pub async fn wait_for_where(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let data = self.wait_for(name).await;
            if pred(&data) {
                return data;
            }
        }
    }

    /// Every event until (and including) the first named `last`, in order, skipping
    /// operator notices and plugin events.
    pub async fn events_until(&mut self, last: &str) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        loop {
            let (event, data) = self.next_event().await;
            if matches!(
                event.as_str(),
                "msgprint"
                    | "plugin_loaded"
                    | "plugin_unloaded"
                    | "plugin_error"
                    | "workspace_update"
            ) {
                continue;
            }
            let done = event == last;
            events.push((event, data));
            if done {
                return events;
            }
        }
    }
}

/// Runs `git` in `dir` with a fixed identity.
pub fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}
