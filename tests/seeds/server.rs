//! Starts the real `sanctuary` binary with a config file and a data directory the test
//! can write into (the `filesystem` plugin's workspace is `<data-dir>/files`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server with its own data directory.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client without a cookie jar.
    pub client: reqwest::Client,
    _child: Child,
    dir: TempDir,
}

/// The admin token of every test server.
pub const ADMIN: &str = "seeds-test-admin-token";

impl Server {
    /// Starts `sanctuary` with `config` as its config file (TOML) and `env` set.
    pub async fn start(config: &str, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("files")).expect("data dir");
        let config_path = dir.path().join("sanctuary.toml");
        std::fs::write(&config_path, config).expect("config file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary"));
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config_path)
            .env(
                "SANCTUARY_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/wasm-cache"),
            )
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env("SANCTUARY_ADMIN_TOKEN", ADMIN)
            .env_remove("SANCTUARY_PORT")
            .env_remove("SANCTUARY_RATE_LIMIT")
            .env_remove("SANCTUARY_DATABASE_URL")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Ok(url) = std::env::var("SANCTUARY_TEST_DATABASE_URL") {
            command.env("SANCTUARY_DATABASE_URL", fresh_postgres(&url).await);
        }
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
        // Keep draining the log so the child never blocks on a full pipe.
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        Server {
            addr,
            client: reqwest::Client::new(),
            _child: child,
            dir,
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A scratch directory next to the data directory (cookie jars, files to upload).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

/// A fresh schema on the PostgreSQL server of `url`, as a database URL for one server.
async fn fresh_postgres(url: &str) -> String {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let schema = format!("seeds_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("connect to SANCTUARY_TEST_DATABASE_URL");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .await
        .expect("CREATE SCHEMA");
    conn.close().await.ok();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Finds `http://127.0.0.1:PORT` in a log line.
fn bound_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
