//! `plugins/js-text`, a plugin written in JavaScript: built with componentize-js (jco) by
//! running the `sh js` blocks of PLUGINS.md as written, served by the real binary, its
//! tools called over HTTP, its key-value store kept across a restart.

use serde_json::json;
use tempfile::TempDir;

use super::{Server, build_as_documented, missing};

/// The plugin's id (its manifest's, and its directory's name under `<data>/plugins`).
const ID: &str = "js-text";

#[tokio::test]
async fn a_javascript_plugin_built_as_plugins_md_says_serves_its_tools_over_the_api() {
    if missing("npm", "Node.js 18 or later with npm") {
        return;
    }
    let work = TempDir::new().expect("tempdir");
    let out = work.path().join("out");
    let data = work.path().join("data");
    let component = build_as_documented("sh js", "js_text.wasm", &out, &data);
    assert_eq!(
        std::fs::read(data.join("plugins").join(ID).join("js_text.wasm"))
            .expect("installed component"),
        std::fs::read(&component).expect("built component"),
        "the install block copies the built component"
    );

    let server = Server::start(&data, ID).await;
    let plugin = server.plugin().await;
    let names: Vec<&str> = plugin["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["word_stats", "slugify", "change_case", "count_calls"]
    );

    let stats = server
        .json_result(
            "word_stats",
            json!({ "text": "The cat sat. The cat ran! Dogs bark" }),
        )
        .await;
    assert_eq!(stats["words"], 8, "{stats}");
    assert_eq!(stats["unique_words"], 6, "{stats}");
    assert_eq!(stats["sentences"], 3, "{stats}");
    assert_eq!(
        server
            .text_result("slugify", json!({ "text": "Crème brûlée: a how-to!" }))
            .await,
        "creme-brulee-a-how-to"
    );
    assert_eq!(
        server
            .text_result(
                "change_case",
                json!({ "text": "userAccountId", "case": "snake" })
            )
            .await,
        "user_account_id"
    );
    assert_eq!(
        server
            .text_result(
                "change_case",
                json!({ "text": "max retry count", "case": "constant" })
            )
            .await,
        "MAX_RETRY_COUNT"
    );

    // The plugin's own error, and arguments the schema refuses before the plugin runs.
    let (status, refused) = server.call("slugify", json!({ "text": "!!!" })).await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(refused["is_error"], true, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid-input", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no letter or digit")),
        "{refused}"
    );
    let (status, wrong) = server
        .call("change_case", json!({ "text": "x", "case": "shouty" }))
        .await;
    assert_eq!(status, 422, "a value outside the enum: {wrong}");

    // The host's key-value store, through the JavaScript import, across a restart.
    for expected in 1..=3 {
        let count = server.json_result("count_calls", json!({})).await;
        assert_eq!(count, expected, "call {expected}");
    }
    server.stop().await;
    let server = Server::start(&data, ID).await;
    assert_eq!(server.json_result("count_calls", json!({})).await, 4);
    server.stop().await;
}
