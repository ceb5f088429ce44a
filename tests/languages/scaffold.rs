//! `sanctuary plugin new --lang js|python`: the scaffold builds with `sanctuary plugin
//! build` alone (no file of this repository needed: it carries its WIT), `sanctuary
//! plugin check` accepts the component, and the real server, given the operator's
//! `[plugins.<id>]` table, serves its `greet` tool with the configured greeting. Over
//! `/mcp/<id>`, the official MCP Python client sees each tool's title, behaviour hints and
//! output schema, and gets `count_words`'s structured content.

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

    // Over MCP, with the official Python client: titles, hints, the output schema, and
    // structured content the client checks against it.
    if sanctuary_test_support::mcp::python_with_mcp() {
        let report = sanctuary_test_support::mcp::python_list_and_call(
            &server.url(&format!("/mcp/{id}")),
            "count_words",
            &json!({ "text": "one two  three" }),
        )
        .await;
        let listed = &report["listed"];
        for (tool, title) in [("greet", "Greet someone"), ("count_words", "Count words")] {
            assert_eq!(listed[tool]["title"], title, "{report}");
            let hints = &listed[tool]["annotations"];
            assert_eq!(hints["readOnlyHint"], true, "{report}");
            assert_eq!(hints["idempotentHint"], true, "{report}");
            assert_eq!(hints["openWorldHint"], false, "{report}");
            assert!(hints.get("destructiveHint").is_none(), "not said: {report}");
        }
        assert_eq!(listed["greet"]["output_schema"], json!(null), "{report}");
        let schema = &listed["count_words"]["output_schema"];
        assert_eq!(schema["type"], "object", "{report}");
        assert_eq!(schema["properties"]["words"]["type"], "integer", "{report}");
        assert_eq!(
            schema["required"],
            json!(["words", "characters"]),
            "{report}"
        );
        assert_eq!(report["is_error"], false, "{report}");
        assert_eq!(
            report["structured"],
            json!({ "words": 3, "characters": 14 }),
            "{report}"
        );
    }
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
