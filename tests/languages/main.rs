//! Plugins written in other languages than Rust, end to end: each bundled example
//! (`plugins/python-notes`, `plugins/js-text`) is built by running its PLUGINS.md blocks
//! exactly as written (`sh python`, `sh js`) into a temporary directory, the real
//! `sanctuary` binary starts over the installed result, and a client uses its tools over
//! the HTTP API. `sanctuary plugin new --lang js|python` scaffolds are built with
//! `sanctuary plugin build` and served the same way ([`scaffold`]).
//!
//! Without a language's toolchain (componentize-py; Node.js with npm) its tests are
//! skipped, except under CI (`CI` set), where a missing toolchain is a failure: `.ci/run`
//! installs them.

mod js;
mod python;
mod scaffold;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sanctuary_test_support::sanctuary;
use serde_json::Value;

/// How long the server may take to come up; the first start compiles an 11-18 MB
/// component. Only a hang takes this long.
const STARTUP: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/server/ sits two levels under the root")
        .to_path_buf()
}

/// Whether `program --version` runs here.
fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips the calling test (returning `true`) when `program` is missing, unless under CI,
/// where that is a failure naming `install`.
fn missing(program: &str, install: &str) -> bool {
    if installed(program) {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} is not installed, and CI must run this test: {install} (.ci/run does)"
    );
    println!("skipped: {program} not installed ({install}; CI installs it)");
    true
}

/// The bodies of the fenced blocks whose info string is exactly `info` (`sh python`), in
/// order, with the fence's indentation (a block inside a list item) taken off each line.
fn blocks(markdown: &str, info: &str) -> Vec<String> {
    let fence = format!("```{info}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in markdown.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == fence => current = Some((indent, String::new())),
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

/// Runs PLUGINS.md's `info` blocks as one bash script from the repository root, with
/// `OUT` and `SANCTUARY_DATA_DIR` pointing into `work`. Returns the component's path
/// (`OUT/<component>`).
fn build_as_documented(info: &str, component: &str, out: &Path, data: &Path) -> PathBuf {
    let markdown =
        std::fs::read_to_string(repo_root().join("PLUGINS.md")).expect("read PLUGINS.md");
    let blocks = blocks(&markdown, info);
    assert!(
        blocks.len() >= 2,
        "PLUGINS.md should have a build and an install `{info}` block, found {}",
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
        "the PLUGINS.md `{info}` commands failed:\n{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let component = out.join(component);
    assert!(
        component.is_file(),
        "no component at {}",
        component.display()
    );
    component
}

/// The real binary over a data directory, calling one plugin's tools.
struct Server {
    server: sanctuary_test_support::Server,
    /// The plugin under test.
    id: &'static str,
}

impl Server {
    /// Starts `sanctuary --data-dir data` (in `data`) on port 0; returns once it listens.
    async fn start(data: &Path, id: &'static str) -> Server {
        let server = sanctuary!()
            .data_dir(data)
            .current_dir(data)
            .env_remove("SANCTUARY_DATA_DIR")
            .startup_timeout(STARTUP)
            .spawn()
            .await;
        Server { server, id }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// `GET path`: status and JSON body.
    async fn get(&self, path: &str) -> (u16, Value) {
        sanctuary_test_support::http::get(&self.server.client, &self.url(path)).await
    }

    /// The plugin's entry in `GET /api/plugins`, asserted loaded.
    async fn plugin(&self) -> Value {
        let (status, listing) = self.get("/api/plugins").await;
        assert_eq!(status, 200, "{listing}");
        let plugin = listing["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .find(|p| p["id"] == self.id)
            .unwrap_or_else(|| panic!("{} is not listed: {listing}", self.id))
            .clone();
        assert_eq!(plugin["state"], "loaded", "{plugin}");
        assert_eq!(plugin["kind"], "mcp-server");
        plugin
    }

    /// Calls tool `tool` of the plugin over `POST /api/mcp/servers/{id}/tools/{tool}`.
    async fn call(&self, tool: &str, arguments: Value) -> (u16, Value) {
        let response = self
            .server
            .client
            .post(self.url(&format!("/api/mcp/servers/{}/tools/{tool}", self.id)))
            .json(&arguments)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A successful call's content list.
    async fn content(&self, tool: &str, arguments: Value) -> Vec<Value> {
        let (status, body) = self.call(tool, arguments).await;
        assert_eq!(status, 200, "{tool}: {body}");
        assert_eq!(body["success"], true, "{tool}: {body}");
        body["content"].as_array().expect("content").clone()
    }

    /// A successful call's JSON content (the first `json` item).
    async fn json_result(&self, tool: &str, arguments: Value) -> Value {
        let content = self.content(tool, arguments).await;
        content
            .iter()
            .find(|c| c["type"] == "json")
            .map(|c| c["json"].clone())
            .unwrap_or_else(|| panic!("{tool} answered no JSON content: {content:?}"))
    }

    /// A successful call's first text content.
    async fn text_result(&self, tool: &str, arguments: Value) -> String {
        let content = self.content(tool, arguments).await;
        assert_eq!(content[0]["type"], "text", "{content:?}");
        content[0]["text"].as_str().expect("text").to_string()
    }

    async fn stop(self) {
        self.server.kill().await;
    }
}

#[test]
fn only_blocks_with_the_exact_info_string_are_extracted_with_their_list_indentation_removed() {
    let markdown = "text\n```sh\nnot this\n```\n1. step\n\n   ```sh python\n   cd x\n     indented\n   ```\n```sh python\necho two\n```\n```python\nnope\n```\n```sh js\njs\n```\n";
    assert_eq!(
        blocks(markdown, "sh python"),
        ["cd x\n  indented\n", "echo two\n"]
    );
    assert_eq!(blocks(markdown, "sh js"), ["js\n"]);
}
