//! PLUGINS.md, run: every fenced block whose info string is exactly `sh` is executed in
//! document order, each with `sh -e` in one shared temporary working directory, with the
//! `sanctuary` under test first on `PATH` and `SANCTUARY_URL` / `SANCTUARY_ADMIN_TOKEN`
//! pointing at a real server started for the guide. Blocks marked `sh python` (and
//! `console`, `text`, `json`, `toml`) are not run here. Every `rust` block is compiled
//! for wasm32-wasip2 as the `src/lib.rs` of a crate `sanctuary plugin new` wrote. After the blocks, the test checks
//! what a reader would: each new plugin is listed and loaded and answers through the API,
//! and the signed registry the guide publishes installs on a server that trusts the key
//! and requires signatures, while an unsigned upload to that server is refused.
//!
//! Plugin crates build into `target/authoring` (shared, so reruns are incremental).

mod server;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use server::{Server, TOKEN};

/// The guide, as it is in the repository.
const GUIDE: &str = include_str!("../../PLUGINS.md");

/// The runnable blocks of `markdown`: (line number, script), in order.
fn sh_blocks(markdown: &str) -> Vec<(usize, String)> {
    fenced_blocks(markdown, "sh")
}

/// The blocks of `markdown` fenced with exactly the info string `info`: (line number of
/// the opening fence, text dedented by the fence's indentation), in order.
fn fenced_blocks(markdown: &str, info: &str) -> Vec<(usize, String)> {
    let opening = format!("```{info}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, usize, Vec<&str>)> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut current {
            None => {
                if trimmed.trim_end() == opening {
                    current = Some((number + 1, indent, Vec::new()));
                }
            }
            Some((start, fence_indent, lines)) => {
                if trimmed.starts_with("```") {
                    blocks.push((*start, lines.join("\n")));
                    current = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|(i, c)| *i < *fence_indent && c.is_whitespace())
                        .count();
                    lines.push(&line[cut..]);
                }
            }
        }
    }
    blocks
}

/// Where the guide's plugin crates build: `<workspace target>/authoring`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("authoring")
}

/// `PATH` with the `sanctuary` under test first.
fn path_with_sanctuary() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_sanctuary"))
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    match std::env::var("PATH") {
        Ok(path) => format!("{bin}:{path}"),
        Err(_) => bin,
    }
}

/// Runs `script` with `sh -e` in `cwd` against `url`.
async fn run_sh(script: &str, cwd: &Path, url: &str) -> std::process::Output {
    tokio::process::Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(cwd)
        .env("PATH", path_with_sanctuary())
        .env("SANCTUARY_URL", url)
        .env("SANCTUARY_ADMIN_TOKEN", TOKEN)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("SANCTUARY_CONFIG")
        .output()
        .await
        .expect("run sh")
}

fn text(output: &std::process::Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_guide_walks_through_every_kind_and_leaves_python_blocks_alone() {
    let blocks = sh_blocks(GUIDE);
    let all: String = blocks
        .iter()
        .map(|(_, b)| b.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for kind in ["mcp-server", "ai-provider", "scout-check", "health-probe"] {
        let step = format!("plugin new --kind {kind}");
        assert!(all.contains(&step), "no `{step}` in the guide's sh blocks");
    }
    for command in [
        "plugin build",
        "plugin check",
        "plugin install",
        "plugin keygen",
        "plugin sign",
    ] {
        assert!(
            all.contains(command),
            "the guide never runs `sanctuary {command}`"
        );
    }
    let sample =
        "text\n```sh python\nnot run\n```\n```sh\necho run\n```\n  ```sh\n  echo indented\n  ```\n";
    let found = sh_blocks(sample);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].1, "echo run");
    assert_eq!(found[1].1, "echo indented");
}

#[test]
fn every_rust_block_of_the_guide_compiles_as_a_plugin_against_the_sdk() {
    let blocks = fenced_blocks(GUIDE, "rust");
    assert!(
        blocks.len() >= 2,
        "the guide shows an export and a #[tool] server: {}",
        blocks.len()
    );
    let sample =
        "```rust\nfn a() {}\n```\n   ```rust\n   fn b() {}\n   ```\n```rust,ignore\nx\n```\n";
    let found: Vec<String> = fenced_blocks(sample, "rust")
        .into_iter()
        .map(|b| b.1)
        .collect();
    assert_eq!(found, ["fn a() {}", "fn b() {}"]);

    let work = tempfile::tempdir().expect("work dir");
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-api");
    for (line, source) in &blocks {
        let name = format!("guide-snippet-{line}");
        let created = std::process::Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .args(["plugin", "new", "--kind", "mcp-server", &name, "--sdk"])
            .arg(&sdk)
            .current_dir(work.path())
            .output()
            .expect("sanctuary plugin new");
        assert!(created.status.success(), "{}", text(&created));
        let dir = work.path().join(&name);
        std::fs::write(dir.join("src/lib.rs"), source).expect("write the snippet");
        let built = std::process::Command::new("cargo")
            .args(["build", "--quiet"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .expect("cargo build");
        assert!(
            built.status.success(),
            "the rust block at PLUGINS.md:{line} does not compile:\n{source}\n{}",
            text(&built)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sh_block_of_the_guide_works_against_a_real_server() {
    let work = tempfile::tempdir().expect("work dir");
    // The server scouts the directory it starts in: give it a README to find.
    std::fs::write(work.path().join("README.md"), "# guide walk-through\n").expect("write");
    let server = Server::start(work.path(), &[]).await;

    let blocks = sh_blocks(GUIDE);
    assert!(
        blocks.len() >= 6,
        "the guide has its runnable blocks: {}",
        blocks.len()
    );
    for (line, script) in &blocks {
        eprintln!("PLUGINS.md:{line}\n{script}");
        let output = run_sh(script, work.path(), &server.url).await;
        assert!(
            output.status.success(),
            "the block at PLUGINS.md:{line} failed ({}):\n{script}\n{}",
            output.status,
            text(&output)
        );
    }

    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{}{path}", server.url);
        let client = client.clone();
        async move {
            client
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };

    // Every plugin of the walk-through is installed (by upload) and loaded.
    let list = get("/api/plugins").await;
    for id in [
        "hello-tools",
        "hello-provider",
        "hello-scout",
        "hello-probe",
    ] {
        let plugin = list["plugins"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["id"] == id))
            .unwrap_or_else(|| panic!("{id} is not listed: {list}"));
        assert_eq!(plugin["state"], "loaded", "{plugin}");
        assert_eq!(plugin["source"], "upload", "{plugin}");
    }

    // The MCP server's tool answers, and its schema is enforced.
    let call = |body: Value| {
        client
            .post(format!(
                "{}/api/mcp/servers/hello-tools/tools/greet",
                server.url
            ))
            .json(&body)
            .send()
    };
    let reply: Value = call(json!({ "name": "Grace" }))
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert_eq!(reply["content"][0]["text"], "Hello, Grace!", "{reply}");
    let refused = call(json!({ "nom": "Grace" })).await.expect("call");
    assert_eq!(refused.status(), 422);

    // Over MCP, with the official Python client: the scaffold's title and hints, and an
    // answer.
    let report = sanctuary_test_support::mcp::python_list_and_call(
        &format!("{}/mcp/hello-tools", server.url),
        "greet",
        &json!({ "name": "Ada" }),
    )
    .await;
    let greet = &report["listed"]["greet"];
    assert_eq!(greet["title"], "Greet someone", "{report}");
    assert_eq!(greet["annotations"]["readOnlyHint"], true, "{report}");
    assert_eq!(greet["annotations"]["idempotentHint"], true, "{report}");
    assert_eq!(greet["annotations"]["openWorldHint"], false, "{report}");
    assert_eq!(report["is_error"], false, "{report}");
    assert_eq!(report["text"], "Hello, Ada!", "{report}");

    // The provider answers chat.
    let chat: Value = client
        .post(format!("{}/v1/chat/completions", server.url))
        .json(&json!({ "model": "hello-provider", "messages": [{ "role": "user", "content": "ping" }] }))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("json");
    assert_eq!(
        chat["choices"][0]["message"]["content"], "You said: ping",
        "{chat}"
    );

    // The probe reports in /health/detailed, the check in the project's status.
    let health = get("/health/detailed").await;
    let probe = health["probes"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == "hello-probe"))
        .unwrap_or_else(|| panic!("no hello-probe report: {health}"));
    assert!(
        probe["detail"]
            .as_str()
            .is_some_and(|d| d.contains("memory")),
        "{probe}"
    );
    let project = work
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let status = get(&format!("/api/v1/scout_agent/projects/{project}/status")).await;
    assert!(
        status.to_string().contains("hello-scout: has a README"),
        "the check saw the project: {status}"
    );

    // The signed registry installs on a server that trusts the key and requires signatures.
    let key = std::fs::read_to_string(work.path().join("publisher.key.pub")).expect("public key");
    let config = work.path().join("strict.toml");
    std::fs::write(
        &config,
        format!(
            "[signatures]\ntrusted_keys = [\"{}\"]\nrequire_signed = true\n",
            key.trim()
        ),
    )
    .expect("write config");
    let registry = work.path().join("my-registry/registry.json");
    let strict = Server::start(
        work.path(),
        &[
            "--config",
            &config.display().to_string(),
            "--registry",
            &registry.display().to_string(),
        ],
    )
    .await;
    let installed = client
        .post(format!("{}/api/plugins/hello-probe/install", strict.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("install");
    let status = installed.status();
    let body: Value = installed.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"]["state"], "loaded", "{body}");

    // ... and refuses the unsigned MCP server, saying why.
    let output = run_sh(
        "sanctuary plugin install hello-tools/hello_tools.wasm --manifest hello-tools/manifest.json",
        work.path(),
        &strict.url,
    )
    .await;
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not signed"),
        "{}",
        text(&output)
    );
}
