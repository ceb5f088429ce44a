//! The load bench's server: the release binary started on port 0 with a fresh data
//! directory, its address read from its log, killed when dropped.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The server process, killed when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) child: Child,
    pub(crate) _data: tempfile::TempDir,
}

impl Server {
    pub(crate) async fn start() -> Server {
        let data = tempfile::TempDir::new().expect("tempdir");
        let cache = std::path::PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"));
        Server::start_in(data, &cache).await
    }

    pub(crate) async fn start_in(data: tempfile::TempDir, cache: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data.path())
            .env("SANCTUARY_CACHE_DIR", cache)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,sanctuary=info")
            .env_remove("SANCTUARY_CONFIG")
            .env_remove("SANCTUARY_PORT")
            .env_remove("SANCTUARY_DATABASE_URL")
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the sanctuary binary");
        let pid = child.id().expect("pid");
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        for stream in [
            Box::new(child.stdout.take().expect("stdout"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                // Keep draining after the address is found so the child never blocks.
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
        .unwrap_or_else(|| panic!("the server never logged its address:\n{}", log.join("\n")));
        // Later log lines (warnings under load) are dropped unread.
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        Server {
            addr,
            pid,
            child,
            _data: data,
        }
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub(crate) fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn bound_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
