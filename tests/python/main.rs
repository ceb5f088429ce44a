//! A plugin written in Python, end to end: build `plugins/python-notes` with componentize-py
//! by running the `sh python` blocks of PLUGINS.md exactly as written (into a temporary
//! directory), start the real `sanctuary` binary over the installed result, and use its
//! tools over the HTTP API as a client would.
//!
//! Without componentize-py the test is skipped, except under CI (`CI` set), where a
//! missing toolchain is a failure: `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sanctuary_test_support::sanctuary;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The plugin's id (its manifest's, and its directory's name under `<data>/plugins`).
const ID: &str = "python-notes";

/// How long the server may take to come up; the first start compiles an ~18 MB component.
/// Only a hang takes this long.
const STARTUP: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/server/ sits two levels under the root")
        .to_path_buf()
}

/// The bodies of the fenced blocks whose info string is exactly `sh python`, in order,
/// with the fence's indentation (a block inside a list item) taken off each line.
fn python_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in markdown.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == "```sh python" => current = Some((indent, String::new())),
            None => {}
            Some(_) if trimmed == "```" => {
                if let Some((_, body)) = current.take() {
                    blocks.push(body);
                }
            }
            Some((fence_indent, body)) => {
                let cut = line
                    .char_indices()
                    .take_while(|(i, c)| *i < *fence_indent && *c == ' ')
                    .count();
                body.push_str(&line[cut..]);
                body.push('\n');
            }
        }
    }
    blocks
}

/// Whether `componentize-py` runs here.
fn componentize_py_installed() -> bool {
    std::process::Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the PLUGINS.md Python blocks as one bash script from the repository root, with
/// `OUT` and `SANCTUARY_DATA_DIR` pointing into `work`. Returns the component's path.
fn build_as_documented(out: &Path, data: &Path) -> PathBuf {
    let markdown =
        std::fs::read_to_string(repo_root().join("PLUGINS.md")).expect("read PLUGINS.md");
    let blocks = python_blocks(&markdown);
    assert!(
        blocks.len() >= 2,
        "PLUGINS.md should have a build and an install `sh python` block, found {}",
        blocks.len()
    );
    let script = blocks.join("\n");
    let output = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(repo_root())
        .env("OUT", out)
        .env("SANCTUARY_DATA_DIR", data)
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "the PLUGINS.md Python commands failed:\n{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let component = out.join("python_notes.wasm");
    assert!(
        component.is_file(),
        "no component at {}",
        component.display()
    );
    component
}

/// The real binary over a data directory.
struct Server {
    server: sanctuary_test_support::Server,
}

impl Server {
    /// Starts `sanctuary --data-dir data` (in `data`) on port 0; returns once it listens.
    async fn start(data: &Path) -> Server {
        let server = sanctuary!()
            .data_dir(data)
            .current_dir(data)
            .env_remove("SANCTUARY_DATA_DIR")
            .startup_timeout(STARTUP)
            .spawn()
            .await;
        Server { server }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// `GET path`: status and JSON body.
    async fn get(&self, path: &str) -> (u16, Value) {
        sanctuary_test_support::http::get(&self.server.client, &self.url(path)).await
    }

    /// Calls tool `tool` of the plugin over `POST /api/mcp/servers/{id}/tools/{tool}`.
    async fn call(&self, tool: &str, arguments: Value) -> (u16, Value) {
        let response = self
            .server
            .client
            .post(self.url(&format!("/api/mcp/servers/{ID}/tools/{tool}")))
            .json(&arguments)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A successful call's JSON content.
    async fn json_result(&self, tool: &str, arguments: Value) -> Value {
        let (status, body) = self.call(tool, arguments).await;
        assert_eq!(status, 200, "{tool}: {body}");
        assert_eq!(body["success"], true, "{tool}: {body}");
        let content = body["content"].as_array().expect("content");
        assert_eq!(content[0]["type"], "text", "{body}");
        assert!(
            content[0]["text"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
        content
            .iter()
            .find(|c| c["type"] == "json")
            .map(|c| c["json"].clone())
            .unwrap_or_else(|| panic!("{tool} answered no JSON content: {body}"))
    }

    async fn stop(self) {
        self.server.kill().await;
    }
}

#[tokio::test]
async fn a_python_plugin_built_as_plugins_md_says_serves_its_tools_over_the_api() {
    if !componentize_py_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "componentize-py is not installed, and CI must run this test: \
             `python3 -m pip install componentize-py` (.ci/run does)"
        );
        println!(
            "skipped: componentize-py not installed (pip install componentize-py; CI installs it)"
        );
        return;
    }
    let work = TempDir::new().expect("tempdir");
    let out = work.path().join("out");
    let data = work.path().join("data");
    let component = build_as_documented(&out, &data);
    let installed = data.join("plugins").join(ID);
    assert_eq!(
        std::fs::read(installed.join("python_notes.wasm")).expect("installed component"),
        std::fs::read(&component).expect("built component"),
        "the install block copies the built component"
    );

    let server = Server::start(&data).await;

    // Listed, with the docstrings as tool descriptions.
    let (status, listing) = server.get("/api/plugins").await;
    assert_eq!(status, 200, "{listing}");
    let plugin = listing["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["id"] == ID)
        .unwrap_or_else(|| panic!("{ID} is not listed: {listing}"))
        .clone();
    assert_eq!(plugin["state"], "loaded", "{plugin}");
    assert_eq!(plugin["kind"], "mcp-server");
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
    let server = Server::start(&data).await;
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

#[test]
fn only_sh_python_blocks_are_extracted_with_their_list_indentation_removed() {
    let markdown = "text\n```sh\nnot this\n```\n1. step\n\n   ```sh python\n   cd x\n     indented\n   ```\n```sh python\necho two\n```\n```python\nnope\n```\n";
    assert_eq!(
        python_blocks(markdown),
        vec!["cd x\n  indented\n".to_string(), "echo two\n".to_string()]
    );
}
