//! Starts the real `sanctuary` binary over an installation (a data directory and a config
//! file that outlive any one server, so a test can kill a server and start another on the
//! same data), and talks to it: HTTP, the `/ws/jobs` WebSocket, and Socket.IO.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The admin token the servers are started with (`SANCTUARY_ADMIN_TOKEN`).
pub const ADMIN_KEY: &str = "jobs-test-admin-key";
/// The key the `openai-compatible` plugin sends to the mock upstream.
pub const OPENAI_KEY: &str = "sk-jobs-test";
/// Upper bound on any one wait; only reached when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// A data directory and a config file.
pub struct Install {
    dir: TempDir,
}

impl Install {
    /// A fresh installation whose config file is `toml`.
    pub fn new(toml: &str) -> Install {
        let dir = TempDir::new().expect("tempdir");
        std::fs::write(dir.path().join("sanctuary.toml"), toml).expect("write the config");
        Install { dir }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("sanctuary.toml")
    }
}

/// A running `sanctuary` process.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    client: reqwest::Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `sanctuary --host 127.0.0.1 --port 0` over `install` and waits for the
    /// address it logs.
    pub async fn start(install: &Install) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--data-dir")
            .arg(install.data_dir())
            .arg("--config")
            .arg(install.config_path())
            .env(
                "SANCTUARY_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"),
            )
            .env("SANCTUARY_ADMIN_TOKEN", ADMIN_KEY)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("SANCTUARY_PORT")
            .env_remove("SANCTUARY_DATABASE_URL")
            .env_remove("SANCTUARY_SECRETS_FILE")
            .current_dir(install.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the sanctuary binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<SocketAddr>();
        let streams = [
            Box::new(child.stdout.take().expect("stdout"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for stream in streams {
            let (tx, log) = (tx.clone(), log.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(addr) = bound_address(&line) {
                        let _ = tx.send(addr);
                    }
                    log.lock().expect("log").push(line);
                }
            });
        }
        drop(tx);
        let addr = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "the server never logged its address; log:\n{}",
                    log.lock().expect("log").join("\n")
                )
            });
        Server {
            addr,
            client: reqwest::Client::new(),
            child,
            log,
        }
    }

    /// Kills the process outright (SIGKILL): no shutdown of any kind runs.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Asks the process to stop (SIGTERM, as a service manager does) and waits for it to
    /// exit; panics unless it exits cleanly.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("the server is running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
        let exited = tokio::time::timeout(PATIENCE, self.child.wait()).await;
        let status = exited
            .unwrap_or_else(|_| panic!("the server did not stop; log:\n{}", self.log()))
            .expect("wait for the server");
        assert!(status.success(), "{status}; log:\n{}", self.log());
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`: status, headers, JSON body.
    pub async fn get(&self, path: &str) -> (u16, HeaderMap, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers");
        read(response).await
    }

    /// `POST path` with the admin key (when `admin`) and a JSON body (when given).
    pub async fn post(&self, path: &str, admin: bool, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.client.post(self.url(path));
        if admin {
            request = request.bearer_auth(ADMIN_KEY);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let (status, _, body) = read(response).await;
        (status, body)
    }

    /// Creates a job as the admin; its id.
    pub async fn create_job(&self, body: &Value) -> String {
        let (status, answer) = self.post("/api/jobs", true, Some(body)).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["success"], true);
        answer["data"]["job_id"]
            .as_str()
            .expect("a job id")
            .to_string()
    }

    /// The job `job_id` (the envelope's `data`).
    pub async fn job(&self, job_id: &str) -> Value {
        let (status, _, body) = self.get(&format!("/api/jobs/{job_id}")).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    /// Polls job `job_id` until `done` holds for it; returns it.
    pub async fn wait_for_job(&self, job_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let job = self.job(job_id).await;
                if done(&job) {
                    return job;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        waited
            .unwrap_or_else(|_| panic!("job {job_id} never got there; server log:\n{}", self.log()))
    }

    /// A client of `/ws/jobs`.
    pub async fn jobs_socket(&self) -> JobsSocket {
        let url = format!("ws://{}/ws/jobs", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the job WebSocket opens");
        JobsSocket { ws }
    }

    /// A Socket.IO client over a WebSocket, connected to the `/` namespace.
    pub async fn socket_io(&self) -> SocketIo {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the Socket.IO WebSocket opens");
        let mut client = SocketIo { ws };
        let open = client.next_packet().await;
        assert!(open.starts_with('0'), "engine.io open: {open}");
        client
            .ws
            .send(Message::text("40"))
            .await
            .expect("namespace connect");
        loop {
            let packet = client.next_packet().await;
            if packet.starts_with("40") {
                return client;
            }
        }
    }
}

async fn read(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Finds `http://127.0.0.1:PORT` in a log line.
fn bound_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A `/ws/jobs` client.
pub struct JobsSocket {
    ws: Ws,
}

impl JobsSocket {
    /// The next message from the server, as JSON.
    pub async fn next(&mut self) -> Value {
        let message = tokio::time::timeout(PATIENCE, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => return text.to_string(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("the job WebSocket ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a message from the server");
        serde_json::from_str(&message).expect("a JSON message")
    }

    /// The next event about job `job_id`, skipping other jobs'.
    pub async fn next_about(&mut self, job_id: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["job"]["job_id"] == job_id {
                return message;
            }
        }
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send on the job WebSocket");
    }
}

/// A minimal Socket.IO (Engine.IO v4) client.
pub struct SocketIo {
    ws: Ws,
}

impl SocketIo {
    /// The next Engine.IO packet; answers pings on the way.
    async fn next_packet(&mut self) -> String {
        tokio::time::timeout(PATIENCE, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                        self.ws.send(Message::text("3")).await.expect("pong");
                    }
                    Some(Ok(Message::Text(text))) => return text.to_string(),
                    Some(Ok(_)) => continue,
                    other => panic!("the Socket.IO WebSocket ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a Socket.IO packet")
    }

    /// The next event: its name and first argument.
    pub async fn next_event(&mut self) -> (String, Value) {
        loop {
            let packet = self.next_packet().await;
            let Some(payload) = packet.strip_prefix("42") else {
                continue;
            };
            let array: Vec<Value> = serde_json::from_str(payload).expect("an event array");
            let name = array[0].as_str().expect("an event name").to_string();
            return (name, array.get(1).cloned().unwrap_or(Value::Null));
        }
    }
}
