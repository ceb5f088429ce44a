//! `sanctuary plugin new --lang js|python`: the scaffold builds with `sanctuary plugin
//! build` alone (no file of this repository needed: it carries its WIT), `sanctuary
//! plugin check` accepts the component, and the real server, given the operator's
//! `[plugins.<id>]` table, serves its `greet` tool with the configured greeting.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use tempfile::TempDir;

use super::{Server, missing};

/// Runs the `sanctuary` under test with `args` in `cwd`; panics with its output on failure.
fn sanctuary(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SANCTUARY_CONFIG")
        .output()
        .expect("run sanctuary");
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "sanctuary {args:?} failed:\n{text}"
    );
    text
}

/// Scaffolds `id` in `lang` outside the repository, builds and checks it, installs it
/// into a fresh data directory and calls its tool.
async fn scaffold_build_and_serve(lang: &str, id: &'static str) {
    let work = TempDir::new().expect("tempdir");
    let created = sanctuary(
        work.path(),
        &["plugin", "new", "--kind", "mcp-server", "--lang", lang, id],
    );
    let dir = work.path().join(id);
    assert!(dir.join("wit/mcp.wit").is_file(), "{created}");
    let built = sanctuary(work.path(), &["plugin", "build", id]);
    let component = format!("{}.wasm", id.replace('-', "_"));
    assert!(dir.join(&component).is_file(), "{built}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert!(
        manifest["sha256"].as_str().is_some_and(|h| h.len() == 64),
        "the build records the hash: {manifest}"
    );
    let checked = sanctuary(
        &dir,
        &["plugin", "check", &component, "--manifest", "manifest.json"],
    );
    assert!(checked.contains("greet"), "{checked}");

    let data = work.path().join("data");
    let installed = data.join("plugins").join(id);
    std::fs::create_dir_all(&installed).expect("mkdir");
    for file in [component.as_str(), "manifest.json"] {
        std::fs::copy(dir.join(file), installed.join(file)).expect("install");
    }
    std::fs::write(
        data.join("sanctuary.toml"),
        format!("[plugins.{id}]\ngreeting = \"Howdy\"\n"),
    )
    .expect("config");
    let server = Server::start(&data, id).await;
    server.plugin().await;
    assert_eq!(
        server.text_result("greet", json!({ "name": "Ada" })).await,
        "Howdy, Ada!"
    );
    let (status, refused) = server.call("greet", json!({ "name": 7 })).await;
    assert_eq!(status, 422, "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn a_scaffolded_javascript_plugin_builds_and_answers() {
    if missing("npm", "Node.js 18 or later with npm") {
        return;
    }
    scaffold_build_and_serve("js", "hello-js").await;
}

#[tokio::test]
async fn a_scaffolded_python_plugin_builds_and_answers() {
    if missing("componentize-py", "python3 -m pip install componentize-py") {
        return;
    }
    scaffold_build_and_serve("python", "hello-py").await;
}
