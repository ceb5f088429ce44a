//! An MCP client of `/mcp` (Streamable HTTP, JSON-RPC): one request at a time, with the
//! answer read from a JSON or a server-sent-events body.

use serde_json::{Value, json};

/// The protocol version the client speaks.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// A client of one server's `/mcp`, holding its session once initialised.
pub struct McpClient {
    client: reqwest::Client,
    url: String,
    /// The session id the server gave at `initialize`.
    pub session: Option<String>,
    next_id: u64,
}

impl McpClient {
    /// A client of `url` (`http://HOST:PORT/mcp`), not initialised yet.
    pub fn new(url: impl Into<String>) -> McpClient {
        McpClient {
            client: reqwest::Client::new(),
            url: url.into(),
            session: None,
            next_id: 1,
        }
    }

    /// Sends `body` (with `x-request-id: request_id` when given); the JSON-RPC answer
    /// (`None` for a notification's empty answer) and the session id the server named.
    pub async fn send(
        &mut self,
        request_id: Option<&str>,
        body: Value,
    ) -> (Option<Value>, Option<String>) {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.expect("/mcp answers");
        assert!(response.status().is_success(), "{}", response.status());
        if let Some(id) = request_id {
            assert_eq!(response.headers()["x-request-id"], id);
        }
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.expect("the body arrives");
        (answer(&text), session)
    }

    /// `initialize` then `notifications/initialized`; the server's `initialize` result.
    pub async fn initialize(&mut self, client_name: &str) -> Value {
        let (answer, session) = self
            .call_raw(
                "initialize",
                json!({
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": { "name": client_name, "version": "1.0" },
                }),
            )
            .await;
        self.session = Some(session.expect("a session id"));
        self.send(
            None,
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        )
        .await;
        answer["result"].clone()
    }

    /// Calls `method` with `params`; its whole JSON-RPC answer.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_raw(method, params).await.0
    }

    async fn call_raw(&mut self, method: &str, params: Value) -> (Value, Option<String>) {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let (answer, session) = self.send(None, body).await;
        (
            answer.unwrap_or_else(|| panic!("no answer to {method}")),
            session,
        )
    }
}

/// Whether `python3` with the official MCP Python SDK is there. Without it a test fails
/// under `CI=true` and is skipped (with a notice) otherwise.
pub fn python_with_mcp() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let message = "python3 with the MCP Python SDK is not available: \
                       `python3 -m pip install mcp` (.ci/run does this)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// Runs the Python script `script` with `args` (killed after 3 minutes); returns the JSON
/// report it prints, panicking with its output when it fails or prints something else.
pub async fn run_python(script: &std::path::Path, args: &[String]) -> Value {
    let run = tokio::process::Command::new("python3")
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the Python client finishes within 3 minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client {} failed ({}):\n{stderr}\n{stdout}",
        script.display(),
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the Python client's report is not JSON ({e}):\n{stdout}\n--- stderr:\n{stderr}")
    })
}

/// Drives the MCP endpoint `url` with the official MCP Python SDK
/// (`tests/support/python/mcp_tool.py`): lists its tools and calls `tool` with
/// `arguments`. The report: `listed` (each tool's `title`, `annotations` with MCP's names
/// and `output_schema`), `is_error`, `text` (the result's text) and `structured` (its
/// structured content, which the SDK checked against the output schema).
pub async fn python_list_and_call(url: &str, tool: &str, arguments: &Value) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/mcp_tool.py");
    run_python(
        &script,
        &[
            format!("--url={url}"),
            format!("--tool={tool}"),
            format!("--arguments={arguments}"),
        ],
    )
    .await
}

/// The JSON-RPC answer in `text`: the body itself when it is JSON, else the first `data:`
/// line of an event stream that carries an `id`.
pub fn answer(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v.get("id").is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_read_from_json_or_from_an_event_stream() {
        assert_eq!(answer(r#"{"id":1}"#), Some(json!({"id": 1})));
        let stream = "data: {\"method\":\"ping\"}\n\ndata: {\"id\":2,\"result\":{}}\n\n";
        assert_eq!(answer(stream), Some(json!({"id": 2, "result": {}})));
        assert_eq!(answer(""), None);
    }
}
