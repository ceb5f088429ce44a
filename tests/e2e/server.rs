//! Starts the real `sanctuary` binary for a test and stops it when the test ends.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server with its own data directory.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub client: reqwest::Client,
    _child: Child,
    _data: TempDir,
}

impl Server {
    /// Starts `sanctuary --host 127.0.0.1 --port 0` on a fresh data directory and waits
    /// for the address it logs.
    pub async fn start() -> Server {
        Server::launch(false, &[]).await
    }

    /// Like [`Server::start`], with the environment variables `env` set (an admin token,
    /// a rate limit: none is inherited from the test's own environment).
    #[allow(dead_code)] // Used by the auth target, which shares this file.
    pub async fn start_with(env: &[(&str, &str)]) -> Server {
        Server::launch(false, env).await
    }

    /// Starts it exactly as `cargo run --release` does apart from the port: no data or
    /// cache directory given, so both are the relative defaults (`./data`, `./data/cache`)
    /// under a fresh working directory. Slower: nothing is compiled yet.
    pub async fn start_with_defaults() -> Server {
        Server::launch(true, &[]).await
    }

    async fn launch(defaults: bool, env: &[(&str, &str)]) -> Server {
        let data = TempDir::new().expect("tempdir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary"));
        command.args(["--host", "127.0.0.1", "--port", "0"]);
        if defaults {
            command
                .env_remove("SANCTUARY_DATA_DIR")
                .env_remove("SANCTUARY_CACHE_DIR");
        } else {
            command.arg("--data-dir").arg(data.path()).env(
                "SANCTUARY_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"),
            );
        }
        command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("SANCTUARY_CONFIG")
            .env_remove("SANCTUARY_PORT")
            .env_remove("SANCTUARY_DATABASE_URL")
            .env_remove("SANCTUARY_ADMIN_TOKEN")
            .env_remove("SANCTUARY_RATE_LIMIT")
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the sanctuary binary");

        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for stream in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if tx.send(line).is_err() {
                        // Nobody reads any more; keep draining so the child never blocks.
                        continue;
                    }
                }
            });
        }
        drop(tx);

        let mut log = Vec::new();
        let addr = tokio::time::timeout(Duration::from_secs(180), async {
            while let Some(line) = rx.recv().await {
                if let Some(addr) = bound_address(&line) {
                    return Some(addr);
                }
                log.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "the server never logged its address; log:\n{}",
                log.join("\n")
            )
        });

        Server {
            addr,
            client: reqwest::Client::new(),
            _child: child,
            _data: data,
        }
    }

    /// Its working directory (also its data directory, unless started with defaults).
    #[allow(dead_code)] // Used by the e2e target, not by the auth target sharing this file.
    pub fn dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// The server's process id (for its memory figures in benchmarks).
    #[allow(dead_code)] // Used by the containment benchmark, which shares this file.
    pub fn pid(&self) -> Option<u32> {
        self._child.id()
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Polls `GET /health/ready` until it answers 200 (every installed plugin loaded or
    /// failed); the 503 answers seen on the way, in order. Panics after three minutes
    /// (a hang, not a speed limit).
    #[allow(dead_code)] // Used by the e2e target, not by the auth target sharing this file.
    pub async fn wait_ready(&self) -> Vec<Value> {
        let mut loading = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let response = self
                .client
                .get(self.url("/health/ready"))
                .send()
                .await
                .expect("/health/ready answers");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON body");
            match status {
                200 => return loading,
                503 => loading.push(body),
                other => panic!("/health/ready answered {other}: {body}"),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not ready after three minutes: {loading:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path`, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }
}

/// Finds `http://127.0.0.1:PORT` in a log line.
fn bound_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
