//! Starts the real `sanctuary` binary for the guide's commands (the shared harness's
//! starter): a fresh data directory, a known admin token, optional extra arguments, in a
//! chosen working directory.

use std::path::Path;

use sanctuary_test_support::sanctuary;

/// The admin token every test server accepts.
pub const TOKEN: &str = "authoring-test-token";

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _server: sanctuary_test_support::Server,
}

impl Server {
    /// Starts `sanctuary` on port 0 in `cwd` with `args`; returns once it listens.
    pub async fn start(cwd: &Path, args: &[&str]) -> Server {
        let server = sanctuary!()
            .current_dir(cwd)
            .args(args)
            .env("SANCTUARY_ADMIN_TOKEN", TOKEN)
            .spawn()
            .await;
        Server {
            url: server.url(""),
            _server: server,
        }
    }
}
