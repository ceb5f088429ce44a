//! Shared set-up for the MCP tests: the whole app over a data directory (optionally
//! served on `127.0.0.1:0`), a registry offering one more MCP server to install, a local
//! web server for `fetch`, the Python SDK check and the runner of the Python clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sanctuary::{AppState, Config};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The admin key of test apps.
pub const ADMIN_KEY: &str = "mcp-test-admin-key";

/// Starts the whole app (database, bundled plugins) over `data`, with `edit` applied to
/// its config.
pub async fn start(data: &Path, edit: impl FnOnce(&mut Config)) -> AppState {
    let mut config = Config {
        admin_token: Some(ADMIN_KEY.into()),
        scout: Config::default().scout,
        ..sanctuary_test_support::inproc::test_config(data)
    };
    edit(&mut config);
    AppState::start(config).await.expect("the app starts")
}

/// Grants the bundled `fetch` plugin loopback (`127.0.0.1`), as an operator would with
/// `POST /api/plugins/fetch/permissions`: its manifest grants no loopback or private
/// address, and the tests' web server listens on 127.0.0.1.
pub async fn grant_fetch_loopback(state: &AppState) {
    let record = state
        .db
        .install_record("fetch")
        .await
        .expect("read the install record")
        .expect("fetch is installed");
    let mut granted = record.granted;
    granted.network.push("127.0.0.1".into());
    state
        .installer()
        .grant("fetch", granted)
        .await
        .expect("the grant is accepted");
}

/// Serves `state` on a free port of 127.0.0.1 ([`sanctuary::serve_on`]) until the test's
/// runtime ends.
pub async fn serve(state: AppState) -> SocketAddr {
    sanctuary_test_support::InProcess::serve(state).await.addr
}

/// Serves `router` on a free port of 127.0.0.1 until the test's runtime ends.
pub async fn serve_router(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

pub use sanctuary_test_support::{bundled, fixture};

/// A registry directory offering `clock`: the bundled `time` component under another id,
/// an MCP server that is not installed yet.
pub struct ClockRegistry {
    dir: tempfile::TempDir,
}

impl ClockRegistry {
    /// Writes the registry and its component.
    pub fn new() -> ClockRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let (manifest, bytes) = bundled("time");
        let mut entry = serde_json::to_value(&manifest).expect("manifest JSON");
        let sha = hex::encode(Sha256::digest(&bytes));
        let file = format!("clock-{}.wasm", &sha[..8]);
        std::fs::write(dir.path().join(&file), &bytes).expect("component");
        entry["id"] = json!("clock");
        entry["name"] = json!("Clock");
        entry["sha256"] = json!(sha);
        entry["component"] = json!(file);
        let registry = json!({ "schema_version": 1, "name": "mcp tests", "plugins": [entry] });
        std::fs::write(
            dir.path().join("registry.json"),
            serde_json::to_vec_pretty(&registry).expect("JSON"),
        )
        .expect("registry");
        ClockRegistry { dir }
    }

    /// The `registry.json` path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("registry.json")
    }
}

/// The page `fetch` reads in the tests: a title, a script, a style, entities, a list.
pub const PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Sanctuary test page</title>
<style>body { color: red }</style>
<script>document.write("<p>should not show</p>");</script></head>
<body><h1>Fetch &amp; read</h1>
<p>Plugins run in a sandbox&nbsp;&mdash; &lt;safely&gt;.</p>
<ul><li>first item</li><li>second item</li></ul>
<!-- a comment that must not show -->
<p>The end.</p>
</body></html>"#;

/// A local web server for `fetch`: `/page` (HTML), `/notes.txt` (text), `/old`
/// (a redirect to `/page`), `/missing` (404).
pub async fn web_server() -> SocketAddr {
    use axum::response::{Html, Redirect};
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/page", get(|| async { Html(PAGE) }))
        .route("/notes.txt", get(|| async { "plain notes\nline two" }))
        .route("/old", get(|| async { Redirect::temporary("/page") }))
        .route(
            "/missing",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, "no such page") }),
        );
    serve_router(router).await
}

/// Whether `python3` with the MCP SDK is there (skipped, or failed under `CI=true`).
pub fn python_with_mcp() -> bool {
    sanctuary_test_support::mcp::python_with_mcp()
}

/// Runs `tests/mcp/client.py` with `args`; returns its JSON report.
pub async fn run_python_client(args: &[String]) -> Value {
    run_python_script("client.py", args).await
}

/// Runs the Python script `tests/mcp/<name>` with `args`; returns its JSON report.
pub async fn run_python_script(name: &str, args: &[String]) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/mcp/{name}"));
    sanctuary_test_support::mcp::run_python(&script, args).await
}
