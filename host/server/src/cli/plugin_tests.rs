//! The `plugin` subcommand (the `sanctuary-author` crate) as part of this server: its
//! commands parse under the server's command line, `plugin check` reports on the
//! first-party components this binary carries, and `plugin install` reads each refusal
//! of this server's upload route right. These tests need the server crate (its command
//! line, its embedded plugins, its app on a real port), which the author crate must not
//! depend on.

use clap::Parser;
use sanctuary_author::PluginCommand;
use sanctuary_author::check::check;
use sanctuary_author::testing::{args, plugin_files};
use sanctuary_author::upload::run;
use serde_json::{Value, json};

use super::{Cli, Command};
use crate::api::test_support::{ADMIN_KEY, state};
use crate::manifest::Kind;
use crate::plugins::artifacts;

fn parse(args: &[&str]) -> PluginCommand {
    let cli = Cli::try_parse_from(std::iter::once("sanctuary").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match cli.command {
        Some(Command::Plugin(p)) => p.command,
        other => panic!("not a plugin command: {other:?}"),
    }
}

#[test]
fn the_plugin_subcommands_parse() {
    assert!(matches!(
        parse(&["plugin", "new", "--kind", "mcp-server", "hello"]),
        PluginCommand::New(_)
    ));
    assert!(matches!(
        parse(&["plugin", "build", "--release"]),
        PluginCommand::Build(_)
    ));
    assert!(matches!(
        parse(&["plugin", "check", "x.wasm", "--json"]),
        PluginCommand::Check(_)
    ));
    assert!(matches!(
        parse(&["plugin", "install", "x.wasm", "--manifest", "m.json"]),
        PluginCommand::Install(_)
    ));
    assert!(matches!(
        parse(&["plugin", "keygen", "--out", "key"]),
        PluginCommand::Keygen(_)
    ));
    assert!(matches!(
        parse(&["plugin", "sign", "x.wasm", "--key", "key"]),
        PluginCommand::Sign(_)
    ));
}

#[test]
fn a_plugin_command_does_not_serve() {
    let cli = Cli::try_parse_from(["sanctuary", "plugin", "keygen", "--out", "k"]).expect("parses");
    assert!(cli.serve_args().is_none());
}

#[test]
fn an_unknown_kind_is_refused_by_the_parser() {
    let err = Cli::try_parse_from(["sanctuary", "plugin", "new", "--kind", "toaster", "x"])
        .expect_err("bad kind");
    assert!(err.to_string().contains("toaster"), "{err}");
}

fn bundled(id: &str) -> &'static artifacts::BundledPlugin {
    artifacts::BUNDLED
        .iter()
        .find(|b| b.dir == id)
        .unwrap_or_else(|| panic!("bundled {id}"))
}

#[tokio::test]
async fn reports_an_mcp_servers_tools_by_calling_it() {
    let time = bundled("time");
    let dir = tempfile::tempdir().expect("tempdir");
    let component = dir.path().join("time.wasm");
    std::fs::write(&component, time.component).expect("write");
    let manifest = dir.path().join("manifest.json");
    let mut value: Value = serde_json::from_str(time.manifest).expect("json");
    value["sha256"] = Value::String(time.sha256.to_string());
    std::fs::write(&manifest, value.to_string()).expect("write");

    let report = check(&component, Some(&manifest)).await.expect("checks");
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.kind, Some(Kind::McpServer));
    assert_eq!(
        report.api_version.as_deref(),
        Some(crate::manifest::WIT_VERSION.to_string().as_str())
    );
    let tool = report
        .offers
        .tools
        .iter()
        .find(|t| t.name == "current_time")
        .expect("the time tool is listed");
    assert!(!tool.description.is_empty());
    assert_eq!(tool.input_schema["type"], "object");
    let m = report.manifest.expect("judged");
    assert_eq!(m.sha256_matches, Some(true));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
}

#[tokio::test]
async fn a_manifest_of_another_kind_or_hash_fails_the_check() {
    let probe = bundled("system");
    let dir = tempfile::tempdir().expect("tempdir");
    let component = dir.path().join("system.wasm");
    std::fs::write(&component, probe.component).expect("write");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "schema_version": 1, "id": "system", "name": "System", "kind": "mcp-server",
            "version": "0.1.0", "api": "^0.1", "sha256": "00".repeat(32),
            "permissions": { "network": ["api.example.com"], "secrets": ["TOKEN"] }
        })
        .to_string(),
    )
    .expect("write");
    let report = check(&component, Some(&manifest)).await.expect("checks");
    assert!(report.loadable, "the component itself loads: {report:#?}");
    assert!(!report.ok);
    let m = report.manifest.expect("judged");
    assert!(
        m.errors.iter().any(|e| e.contains("kind `mcp-server`")),
        "{:?}",
        m.errors
    );
    assert!(
        m.errors.iter().any(|e| e.contains("sha256 mismatch")),
        "{:?}",
        m.errors
    );
    assert_eq!(m.sha256_matches, Some(false));
    assert!(
        m.permissions
            .iter()
            .any(|p| p == "make HTTP requests to api.example.com")
    );
    assert!(m.permissions.iter().any(|p| p == "read the secret TOKEN"));
    assert!(
        report
            .offers
            .trial
            .as_deref()
            .is_some_and(|t| t.contains("memory")
                || t.contains("healthy")
                || t.contains("degraded")),
        "a trial probe ran: {:?}",
        report.offers.trial
    );
}

/// A real server over real HTTP on a free port; its base URL.
async fn serve() -> (String, crate::api::test_support::Guards) {
    let (state, db, dir) = state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, crate::app(state)).await;
    });
    (format!("http://{addr}"), (db, dir))
}

#[tokio::test]
async fn a_wrong_token_is_reported_as_the_servers_401_not_a_broken_pipe() {
    let (base, _guards) = serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let files = plugin_files(dir.path());
    let err = run(&args(&base, "not-the-token", &files))
        .await
        .expect_err("refused");
    let text = format!("{err:#}");
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.contains("refused the token"), "{text}");
    assert!(!text.contains("cannot reach"), "{text}");
    assert!(!text.to_lowercase().contains("broken pipe"), "{text}");
}

#[tokio::test]
async fn a_key_without_the_plugins_scope_is_reported_as_403_naming_the_scope() {
    let (base, _guards) = serve().await;
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/api/auth/keys"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"name": "reader", "scopes": ["read"]}))
        .send()
        .await
        .expect("create a key")
        .json()
        .await
        .expect("json");
    let key = created["key"].as_str().expect("a key").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = plugin_files(dir.path());
    let err = run(&args(&base, &key, &files)).await.expect_err("refused");
    let text = format!("{err:#}");
    assert!(text.contains("403 Forbidden"), "{text}");
    assert!(text.contains("`plugins` scope"), "{text}");
}

#[tokio::test]
async fn a_component_the_server_refuses_is_reported_as_422_with_the_refusal() {
    let (base, _guards) = serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let files = plugin_files(dir.path());
    let err = run(&args(&base, ADMIN_KEY, &files))
        .await
        .expect_err("refused");
    let text = format!("{err:#}");
    assert!(text.contains("422 Unprocessable Entity"), "{text}");
    assert!(text.contains("refused the plugin"), "{text}");
}
