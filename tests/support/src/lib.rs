//! The shared harness of Sanctuary's test targets (and benches), one copy instead of one
//! per target:
//! - [`inproc`]: the whole app served in this process on `127.0.0.1:0`
//!   ([`sanctuary::serve_on`]);
//! - [`binary`]: the real `sanctuary` binary, which tells its address through
//!   `--port-file` (no log scraping);
//! - [`fixtures`]: the test fixture components and the bundled plugins;
//! - clients: [`http`] (JSON), [`socketio`] (Engine.IO v4 over a WebSocket), [`jobs_ws`]
//!   (`/ws/jobs`), [`sse`] (server-sent events) and [`mcp`] (`/mcp`, JSON-RPC);
//! - [`mocks`]: mock AI vendor upstreams (OpenAI, Anthropic, Gemini wire formats).

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub mod binary;
pub mod fixtures;
pub mod http;
pub mod inproc;
pub mod jobs_ws;
pub mod mcp;
pub mod mocks;
pub mod socketio;
pub mod sse;

pub use binary::{Launch, Server};
pub use fixtures::{bundled, fixture};
pub use inproc::InProcess;

/// A [`Launch`] of the `sanctuary` binary of the package under test: expands to
/// `Launch::new(env!("CARGO_BIN_EXE_sanctuary"))` in the calling test target, where cargo
/// defines that variable.
#[macro_export]
macro_rules! sanctuary {
    () => {
        $crate::Launch::new(env!("CARGO_BIN_EXE_sanctuary"))
    };
}

/// Upper bound on any one wait of the harness; only reached when something is broken (a
/// hang, not a speed limit).
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Where compiled components are cached across tests and runs: `<target>/tmp/wasm-cache`
/// (cargo's `CARGO_TARGET_TMPDIR`), found from the running test or bench executable
/// (`<target>/<profile>/deps/<name>`).
pub fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("tmp/wasm-cache"))
        .unwrap_or_else(|| std::env::temp_dir().join("sanctuary-wasm-cache"))
}

/// Waits until `check` holds, for at most `limit`; whether it did.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `git` in `dir` with a fixed identity; panics unless it succeeds.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_dir_sits_in_the_target_directory_tmp() {
        let dir = cache_dir();
        assert!(dir.ends_with("tmp/wasm-cache"), "{}", dir.display());
    }

    #[tokio::test]
    async fn eventually_reports_a_condition_that_never_holds() {
        assert!(!eventually(Duration::from_millis(120), || async { false }).await);
        assert!(eventually(Duration::from_millis(120), || async { true }).await);
    }
}
