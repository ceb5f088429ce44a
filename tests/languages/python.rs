//! `plugins/python-notes`, a plugin written in Python: built with componentize-py by
//! running the `sh python` blocks of PLUGINS.md as written, served by the real binary,
//! its tools called over HTTP, its notes kept across a restart.

use serde_json::json;
use tempfile::TempDir;

use super::{Server, build_as_documented, missing, repo_root};

/// The plugin's id (its manifest's, and its directory's name under `<data>/plugins`).
const ID: &str = "python-notes";

#[tokio::test]
async fn a_python_plugin_built_as_plugins_md_says_serves_its_tools_over_the_api() {
    if missing("componentize-py", "python3 -m pip install componentize-py") {
        return;
    }
    let work = TempDir::new().expect("tempdir");
    let out = work.path().join("out");
    let data = work.path().join("data");
    let component = build_as_documented("sh python", "python_notes.wasm", &out, &data);
    let installed = data.join("plugins").join(ID);
    assert_eq!(
        std::fs::read(installed.join("python_notes.wasm")).expect("installed component"),
        std::fs::read(&component).expect("built component"),
        "the install block copies the built component"
    );

    let server = Server::start(&data, ID).await;

    // Listed, with the docstrings as tool descriptions.
    let plugin = server.plugin().await;
    let tools: Vec<(&str, &str)> = plugin["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["description"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let names: Vec<&str> = tools.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "save_note",
            "find_notes",
            "read_note",
            "delete_note",
            "text_stats"
        ]
    );
    assert!(
        tools.contains(&(
            "text_stats",
            "Counts the words, unique words, sentences and characters of a text, estimates its \
             reading time at 200 words a minute and lists its most frequent words."
        )),
        "{tools:?}"
    );
    assert!(tools.iter().all(|(_, d)| !d.is_empty()), "{tools:?}");

    // Pure computation.
    let stats = server
        .json_result(
            "text_stats",
            json!({ "text": "The cat sat. The cat ran! Dogs bark", "top": 2 }),
        )
        .await;
    assert_eq!(stats["words"], 8, "{stats}");
    assert_eq!(stats["sentences"], 3, "{stats}");
    assert_eq!(
        stats["top_words"],
        json!([{ "word": "cat", "count": 2 }, { "word": "bark", "count": 1 }])
    );

    // Notes through the host's key-value store.
    let saved = server
        .json_result(
            "save_note",
            json!({ "title": "Shopping list", "text": "Buy apples. Buy pears and apples!", "tags": ["Home"] }),
        )
        .await;
    assert_eq!(saved["replaced"], false, "{saved}");
    assert_eq!(saved["saved"]["slug"], "shopping-list");
    assert_eq!(saved["saved"]["tags"], json!(["home"]));
    assert_eq!(saved["stats"]["words"], 6);
    server
        .json_result(
            "save_note",
            json!({ "title": "Release plan", "text": "Ship version two." }),
        )
        .await;
    let found = server
        .json_result("find_notes", json!({ "query": "PEARS" }))
        .await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["notes"][0]["title"], "Shopping list");
    let tagged = server
        .json_result("find_notes", json!({ "tag": "home" }))
        .await;
    assert_eq!(tagged["total"], 1, "{tagged}");
    let all = server.json_result("find_notes", json!({})).await;
    assert_eq!(all["total"], 2, "{all}");
    let note = server
        .json_result("read_note", json!({ "title": "shopping LIST" }))
        .await;
    assert_eq!(note["text"], "Buy apples. Buy pears and apples!");

    // The plugin's own error, and arguments the schema refuses before the plugin runs.
    let (status, missing) = server
        .call("read_note", json!({ "title": "Holiday" }))
        .await;
    assert_eq!(status, 200, "{missing}");
    assert_eq!(missing["is_error"], true);
    assert_eq!(missing["error"]["code"], "invalid-input", "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no note titled `Holiday`")),
        "{missing}"
    );
    let (status, wrong) = server.call("text_stats", json!({ "text": 5 })).await;
    assert_eq!(status, 422, "{wrong}");
    assert_eq!(wrong["details"]["errors"][0]["field"], "text", "{wrong}");
    let (status, extra) = server
        .call("find_notes", json!({ "query": "x", "colour": "red" }))
        .await;
    assert_eq!(status, 422, "an unknown argument: {extra}");

    let deleted = server
        .json_result("delete_note", json!({ "title": "Release plan" }))
        .await;
    assert_eq!(deleted["deleted"], true);

    // The notes are in the host's database: a restarted server still has them.
    server.stop().await;
    let server = Server::start(&data, ID).await;
    let all = server.json_result("find_notes", json!({})).await;
    assert_eq!(all["total"], 1, "{all}");
    assert_eq!(all["notes"][0]["title"], "Shopping list");
    server.stop().await;
}

#[test]
fn the_tool_helper_passes_its_python_unit_tests() {
    let run = std::process::Command::new("python3")
        .args(["-m", "unittest", "-v", "test_mcp_tools"])
        .current_dir(repo_root().join("plugins").join(ID))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let output = match run {
        Ok(output) => output,
        Err(e) if std::env::var_os("CI").is_none() => {
            println!("skipped: python3 not runnable ({e})");
            return;
        }
        Err(e) => panic!("python3 is needed under CI: {e}"),
    };
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("\nOK") && !log.contains("Ran 0 tests"),
        "{log}"
    );
}
