//! What operators' tools read, from the real binary: `promtool check metrics` on the
//! live `/metrics`, and JSON logs (`--log-format json`) in which one MCP tool call can be
//! followed by its request id from the access line into the plugin call's own lines, with
//! no third-party INFO noise by default; and the WARN lines about routes bound to a
//! provider that has no key.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use sanctuary_test_support::mcp::McpClient;
use sanctuary_test_support::{Server, sanctuary};
use serde_json::{Value, json};

const ADMIN: &str = "observability-admin";

/// The binary with `--log-format json` and the default log filter, every line of its
/// output kept.
struct JsonServer {
    server: Server,
    client: reqwest::Client,
}

impl JsonServer {
    async fn start() -> JsonServer {
        JsonServer::start_with_config(None).await
    }

    /// Started in a directory holding `config` as its `sanctuary.toml`, when given.
    async fn start_with_config(config: Option<&str>) -> JsonServer {
        let launch = sanctuary!()
            .args(["--log-format", "json"])
            .env("SANCTUARY_ADMIN_TOKEN", ADMIN)
            // The default filter is what is tested: no override from the environment.
            .env_remove("RUST_LOG")
            .env_remove("SANCTUARY_LOG")
            // No provider key from the test's environment.
            .env_remove("OPENAI_API_KEY")
            .env_remove("TOGETHER_API_KEY")
            .env_remove("GROQ_API_KEY");
        if let Some(config) = config {
            std::fs::write(launch.scratch().join("sanctuary.toml"), config).expect("config");
        }
        let server = launch.spawn().await;
        server.wait_ready().await;
        JsonServer {
            client: server.client.clone(),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Every line so far, each parsed as JSON (a line that is not JSON fails the test).
    fn parsed(&self) -> Vec<Value> {
        self.server
            .log_lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// Installs the `api-v0-2` test fixture (an MCP server whose `log` tool writes a line
    /// through the host).
    async fn install_logging_fixture(&self) {
        let (_, wasm, manifest) = sanctuary_test_support::fixtures::FIXTURES
            .iter()
            .find(|(n, _, _)| *n == "api-v0-2")
            .expect("the api-v0-2 fixture");
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(manifest).expect("manifest"))
                .expect("json");
        let component = std::fs::read(wasm).expect("fixture built");
        let response = self
            .client
            .post(self.url("/api/plugins/upload"))
            .bearer_auth(ADMIN)
            .json(&json!({
                "manifest": manifest,
                "component_base64": base64::engine::general_purpose::STANDARD.encode(component),
            }))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
}

#[tokio::test]
async fn one_mcp_tool_call_is_followed_by_its_request_id_through_json_logs() {
    let server = JsonServer::start().await;
    server.install_logging_fixture().await;

    let mut mcp = McpClient::new(server.url("/mcp"));
    let init = mcp.initialize("log-test").await;
    assert!(init.is_object(), "{init}");
    let request_id = "trace-me-7f3a";
    let (answer, _) = mcp
        .send(
            Some(request_id),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "api-v0-2__log",
                "arguments": {"message": "written by the plugin", "fields": {"step": "one"}}}}),
        )
        .await;
    let answer = answer.expect("a tools/call answer");
    assert_eq!(answer["result"]["content"][0]["text"], "logged", "{answer}");

    // The access line is written after the response: wait for it.
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = server.parsed();
        if lines
            .iter()
            .any(|l| l["fields"]["request_id"] == request_id)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every line is JSON (`parsed` panics otherwise) with a level and a timestamp.
    assert!(lines.len() > 5);
    for line in &lines {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
    }
    let in_request = |line: &&Value| {
        line["spans"].as_array().is_some_and(|spans| {
            spans
                .iter()
                .any(|s| s["name"] == "request" && s["id"] == request_id)
        })
    };
    let followed: Vec<&Value> = lines
        .iter()
        .filter(|l| in_request(l) || l["fields"]["request_id"] == request_id)
        .collect();
    // The plugin's own line, inside request → tool_call → plugin_call.
    let plugin_line = followed
        .iter()
        .find(|l| l["fields"]["message"] == "written by the plugin")
        .unwrap_or_else(|| panic!("the plugin's line lacks the request id: {lines:#?}"));
    assert_eq!(plugin_line["target"], "plugin");
    assert_eq!(plugin_line["level"], "INFO");
    let spans: Vec<&str> = plugin_line["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        spans,
        ["request", "tool_call", "plugin_call"],
        "{plugin_line}"
    );
    let plugin_call = &plugin_line["spans"][2];
    assert_eq!(plugin_call["plugin"], "api-v0-2", "{plugin_line}");
    // The access line of the same request.
    let access = followed
        .iter()
        .find(|l| l["target"] == "sanctuary::access")
        .unwrap_or_else(|| panic!("no access line for the request: {lines:#?}"));
    assert_eq!(access["fields"]["method"], "POST");
    assert_eq!(access["fields"]["route"], "/mcp");
    assert_eq!(access["fields"]["status"], 200);
    // No other request's line carries this id.
    assert!(followed.len() >= 2);

    // Third-party INFO noise is off by default: no rmcp line below WARN (it logs every
    // session's start and the client's whole init parameters at INFO).
    let noisy: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            let target = l["target"].as_str().unwrap_or("");
            let level = l["level"].as_str().unwrap_or("");
            !target.starts_with("sanctuary")
                && target != "plugin"
                && (level == "INFO" || level == "DEBUG")
        })
        .collect();
    assert!(noisy.is_empty(), "third-party INFO lines: {noisy:#?}");
}

/// Whether `promtool` is installed; without it the test fails under CI (`CI` set) and is
/// skipped, saying so, elsewhere.
fn promtool() -> bool {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing (apt-get install prometheus); CI must run this test"
        );
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
    }
    found
}

#[tokio::test]
async fn promtool_accepts_the_live_metrics_endpoint() {
    if !promtool() {
        return;
    }
    let server = JsonServer::start().await;
    server.install_logging_fixture().await;
    // Traffic, so per-route, per-plugin and error series exist.
    let response = server
        .client
        .post(server.url("/api/mcp/servers/api-v0-2/tools/log"))
        .bearer_auth(ADMIN)
        .json(&json!({"message": "for the metrics", "fields": {}}))
        .send()
        .await
        .expect("tool call");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let _ = server.client.get(server.url("/api/nope")).send().await;

    for accept in [None, Some("text/plain;version=0.0.4")] {
        let mut request = server.client.get(server.url("/metrics"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("metrics");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("body");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        assert!(text.contains("plugin=\"api-v0-2\""), "{text}");
        let mut check = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool runs");
        std::io::Write::write_all(check.stdin.as_mut().expect("stdin"), text.as_bytes())
            .expect("feed promtool");
        let output = check.wait_with_output().expect("promtool ends");
        assert!(
            output.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The WARN lines about route `name`'s providers, waiting a little for them.
async fn route_warnings(server: &JsonServer, name: &str) -> Vec<Value> {
    for _ in 0..100 {
        let found: Vec<Value> = server
            .parsed()
            .into_iter()
            .filter(|l| l["level"] == "WARN" && l["fields"]["route"] == name)
            .collect();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn routes_bound_to_a_provider_without_a_key_are_warned_about_in_the_log() {
    // A config-file route, warned about once the plugins have loaded.
    let server = JsonServer::start_with_config(Some(
        "[routes.coder]\nchain = [{ provider = \"openai-compatible\" }, { provider = \"local\" }]\n",
    ))
    .await;
    let warned = route_warnings(&server, "coder").await;
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["fields"]["provider"], "openai-compatible");
    let text = warned[0]["fields"]["warning"].as_str().expect("warning");
    assert!(
        text.contains("not configured") && text.contains("OPENAI_API_KEY"),
        "{text}"
    );

    // A route bound through the API: the answer and the log both say so.
    let response = server
        .client
        .put(server.url("/api/providers/routes/writer"))
        .bearer_auth(ADMIN)
        .json(&json!({"chain": [{"provider": "openai-compatible"}]}))
        .send()
        .await
        .expect("bind");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("not configured")),
        "{body}"
    );
    let warned = route_warnings(&server, "writer").await;
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["fields"]["warning"], body["warnings"][0]);
    // The status agrees.
    let status: Value = server
        .client
        .get(server.url("/api/providers"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    let provider = status["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .find(|p| p["id"] == "openai-compatible")
        .expect("listed");
    assert_eq!(provider["configured"], false, "{provider}");
}
