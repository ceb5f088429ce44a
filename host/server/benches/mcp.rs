//! `tools/call` of `time__current_time` over `/mcp`, against the real `sanctuary` binary:
//! one MCP session (protocol 2025-11-25, Streamable HTTP), calls timed one after the other
//! (latency percentiles and calls per second), then from several concurrent clients
//! (throughput). Bounded in count and time; talks only to 127.0.0.1.
//!
//! `cargo bench -p sanctuary --bench mcp` (results go into BENCHMARKS.md by hand).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SEQUENTIAL_CALLS: usize = 2000;
const WARMUP_CALLS: usize = 100;
const CLIENTS: usize = 8;
const CALLS_PER_CLIENT: usize = 250;

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The JSON-RPC message in a response body, which is JSON or a server-sent event stream.
fn message(body: &str) -> Value {
    if let Ok(value) = serde_json::from_str(body) {
        return value;
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {body}"))
}

/// An MCP session over plain HTTP.
struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
}

impl Session {
    async fn open(url: &str) -> Session {
        let http = reqwest::Client::new();
        let response = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": { "name": "bench", "version": "0" }
                }
            }))
            .send()
            .await
            .expect("initialize");
        let id = response
            .headers()
            .get("mcp-session-id")
            .expect("a session id")
            .to_str()
            .expect("ascii")
            .to_string();
        let _ = response.text().await;
        let session = Session {
            http,
            url: url.to_string(),
            id,
        };
        session
            .post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        session
    }

    async fn post(&self, body: Value) -> String {
        self.http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    }

    /// One `tools/call`; panics unless it succeeded.
    async fn call(&self, id: usize) -> Duration {
        let started = Instant::now();
        let body = self
            .post(json!({
                "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": { "name": "time__current_time", "arguments": { "timezone": "Europe/Paris" } }
            }))
            .await;
        let elapsed = started.elapsed();
        let answer = message(&body);
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        elapsed
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn wait_until_up(base: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server did not come up at {base}");
}

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sanctuary"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base).await;
    let url = format!("{base}/mcp");

    let session = Session::open(&url).await;
    for i in 0..WARMUP_CALLS {
        session.call(i).await;
    }
    let mut latencies = Vec::with_capacity(SEQUENTIAL_CALLS);
    let started = Instant::now();
    for i in 0..SEQUENTIAL_CALLS {
        latencies.push(session.call(WARMUP_CALLS + i).await);
    }
    let sequential = started.elapsed();
    latencies.sort();
    println!("MCP tools/call time__current_time, 1 client, {SEQUENTIAL_CALLS} calls:");
    println!(
        "  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  {:.0} calls/s",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("calls")),
        SEQUENTIAL_CALLS as f64 / sequential.as_secs_f64()
    );

    let mut sessions = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        sessions.push(Session::open(&url).await);
    }
    let started = Instant::now();
    let runs = sessions.into_iter().map(|session| {
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(CALLS_PER_CLIENT);
            for i in 0..CALLS_PER_CLIENT {
                latencies.push(session.call(i).await);
            }
            latencies
        })
    });
    let mut all: Vec<Duration> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flat_map(|r| r.expect("client task"))
        .collect();
    let concurrent = started.elapsed();
    all.sort();
    println!(
        "MCP tools/call time__current_time, {CLIENTS} concurrent clients, {} calls:",
        all.len()
    );
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  {:.0} calls/s",
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.99)),
        all.len() as f64 / concurrent.as_secs_f64()
    );
}
