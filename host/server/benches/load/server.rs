//! The load bench's server: the release binary started on port 0 by the shared test
//! harness (which learns the address from `--port-file`), killed when dropped. Its layout
//! is the one `cargo run --release` gives: a fresh working directory with the data
//! directory `data/` inside it. (With the data directory *as* the working directory, the
//! config watcher, which watches the working directory for `sanctuary.toml`, would wake
//! for every database write: a cost the default layout does not have.)

use std::net::SocketAddr;

use sanctuary_test_support::sanctuary;

/// The server process, killed when dropped.
pub(crate) struct Server {
    /// The working directory; the data directory is `data/` in it.
    pub(crate) root: tempfile::TempDir,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) process: sanctuary_test_support::Server,
}

impl Server {
    pub(crate) async fn start() -> Server {
        Server::start_with(None).await
    }

    /// A server reading `config` (the text of a `sanctuary.toml`) when given.
    pub(crate) async fn start_with(config: Option<&str>) -> Server {
        let root = tempfile::TempDir::new().expect("tempdir");
        let mut launch = sanctuary!()
            .current_dir(root.path())
            .data_dir(root.path().join("data"))
            .env("RUST_LOG", "warn,sanctuary=info");
        if let Some(config) = config {
            let dir = tempfile::TempDir::new().expect("tempdir");
            let file = dir.path().join("sanctuary.toml");
            std::fs::write(&file, config).expect("config file");
            // The file must outlive the start; the directory is small and left behind.
            let _ = dir.keep();
            launch = launch.env("SANCTUARY_CONFIG", &file);
        }
        let process = launch.spawn().await;
        Server {
            root,
            addr: process.addr,
            pid: process.pid().expect("pid"),
            process,
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
