//! Starts the real `sanctuary` binary for the guide's commands: a fresh data directory,
//! a known admin token, optional extra arguments, in a chosen working directory.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The admin token every test server accepts.
pub const TOKEN: &str = "authoring-test-token";

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _child: Child,
    _data: TempDir,
}

impl Server {
    /// Starts `sanctuary` on port 0 in `cwd` with `args` and waits for its address.
    pub async fn start(cwd: &Path, args: &[&str]) -> Server {
        let data = TempDir::new().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env(
                "SANCTUARY_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"),
            )
            .env("SANCTUARY_ADMIN_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("SANCTUARY_CONFIG")
            .env_remove("SANCTUARY_PORT")
            .env_remove("SANCTUARY_DATABASE_URL")
            .env_remove("SANCTUARY_REGISTRY")
            .current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the sanctuary binary");
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
                    // Keep draining after the address is read so the child never blocks.
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let mut log = Vec::new();
        let addr = tokio::time::timeout(Duration::from_secs(300), async {
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
        .unwrap_or_else(|| panic!("the server never logged its address:\n{}", log.join("\n")));
        Server {
            url: format!("http://{addr}"),
            _child: child,
            _data: data,
        }
    }
}

fn bound_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
