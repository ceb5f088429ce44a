//! Starts the real `sanctuary` binary with chosen environment variables (the admin token,
//! the rate limit) on a fresh data directory, and stops it when the test ends.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client (no cookie store: tests send `Cookie` themselves).
    pub client: reqwest::Client,
    _child: Child,
    _data: TempDir,
}

impl Server {
    /// Starts `sanctuary --host 127.0.0.1 --port 0` with `env` set, and waits for the
    /// address it logs.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let data = TempDir::new().expect("tempdir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary"));
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data.path())
            .env(
                "SANCTUARY_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"),
            )
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

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                // Keep draining after the test stops reading, so the child never blocks.
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(line);
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

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
