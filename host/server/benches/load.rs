//! Load against the real `sanctuary` binary (release profile), all traffic to 127.0.0.1:
//!
//! 1. server memory per idle Socket.IO connection: VmRSS of the server process before and
//!    after opening up to [`IDLE_CONNECTIONS`] websocket clients (Engine.IO v4, namespace
//!    joined, answering pings), divided by the number opened;
//! 2. `test_event` → `test_response` round trip with [`RTT_CLIENTS`] connected clients,
//!    first one client at a time (the others idle), then every client at once;
//! 3. HTTP throughput, side by side: `GET /api/dev/ping`, the plugin-backed
//!    `POST /api/mcp/servers/time/tools/current_time`, `GET /health` and the scout status
//!    `GET /api/v1/scout_agent/projects/{name}/status`, [`HTTP_TASKS`] client tasks each,
//!    in [`ROUNDS`] interleaved rounds of [`ROUND_DURATION`]; the median rate of each and
//!    its ratio to ping's;
//!    plus the tool route of a second server with call recording off (`[telemetry]
//!    record_calls = false`), so the recording's cost is the ratio of the two;
//! 4. call recording: `sanctuary_call_records_dropped_total` from `/metrics` after that;
//! 5. server RSS after 100 k and after [`CALLS_ENV`] (default 1 M) plugin calls;
//! 6. cold start: from exec to the first answer of `GET /health/live`, and to
//!    `GET /health/ready` answering 200, on a fresh data and cache directory.
//!
//! Every loop is bounded in count and in time. `SANCTUARY_LOAD_SKIP_SOCKETIO=1` skips 1
//! and 2 (the HTTP, recording, RSS and cold-start parts take a few minutes alone).
//!
//! `cargo bench -p sanctuary --bench load` (results go into BENCHMARKS.md by hand).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const IDLE_CONNECTIONS: usize = 10_000;
const RTT_CLIENTS: usize = 1_000;
const RTT_SEQUENTIAL_ROUNDS: usize = 3;
const RTT_BURST_ROUNDS: usize = 5;
const CONNECT_CONCURRENCY: usize = 32;
const CONNECT_BUDGET: Duration = Duration::from_secs(240);
const HTTP_TASKS: usize = 64;
const HTTP_WARMUP: Duration = Duration::from_secs(1);
/// Interleaved rounds of the HTTP comparison; each route's median is reported.
const ROUNDS: usize = 5;
const ROUND_DURATION: Duration = Duration::from_secs(3);
/// Plugin calls before the last RSS reading (environment variable, default 1 000 000).
const CALLS_ENV: &str = "SANCTUARY_LOAD_CALLS";
const PACKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Longer than the server's ping interval (Socket.IO's default 25 s), so every idle client
/// answers at least one ping before the memory is read.
const IDLE_HOLD: Duration = Duration::from_secs(30);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[path = "load/server.rs"]
mod server;
use server::Server;

/// `42["event",data]` → `(event, data)`.
fn parse_event(packet: &str) -> Option<(String, Value)> {
    let body = packet.strip_prefix("42")?;
    let mut array: Vec<Value> = serde_json::from_str(body).ok()?;
    if array.is_empty() {
        return None;
    }
    let data = if array.len() > 1 {
        array.remove(1)
    } else {
        Value::Null
    };
    Some((array[0].as_str()?.to_string(), data))
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        let message = tokio::time::timeout(PACKET_TIMEOUT, ws.next())
            .await
            .map_err(|_| "no packet within the timeout".to_string())?
            .ok_or("socket closed")?
            .map_err(|e| e.to_string())?;
        if let Message::Text(text) = message {
            return Ok(text.to_string());
        }
    }
}

/// One round trip asked of a client task: its RTT in microseconds comes back.
type Probe = oneshot::Sender<Result<u64, String>>;

/// A connected client, served by its own task (which answers pings).
struct Client {
    probes: mpsc::Sender<Probe>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a websocket, joins the default namespace and waits for `connected`.
async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    // Small client buffers: the client side of 10 000 sockets shares the machine.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio::time::timeout(
        PACKET_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .map_err(|_| "websocket handshake timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("engine.io open: {open}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    let (mut joined, mut connected) = (false, false);
    for _ in 0..20 {
        let packet = next_text(&mut ws).await?;
        if packet.starts_with("40") {
            joined = true;
        } else if packet == "2" {
            ws.send(Message::text("3"))
                .await
                .map_err(|e| e.to_string())?;
        } else if parse_event(&packet).is_some_and(|(e, _)| e == "connected") {
            connected = true;
        }
        if joined && connected {
            break;
        }
    }
    if !(joined && connected) {
        return Err("no namespace ack and `connected` event".into());
    }
    let (probes, rx) = mpsc::channel(1);
    let task = tokio::spawn(serve_client(ws, rx));
    Ok(Client { probes, task })
}

/// Answers pings; on a probe, emits `test_event` and times the `test_response`.
async fn serve_client(mut ws: Ws, mut probes: mpsc::Receiver<Probe>) {
    let mut pending: Option<(Instant, Probe)> = None;
    loop {
        tokio::select! {
            probe = probes.recv(), if pending.is_none() => {
                let Some(probe) = probe else { return };
                let payload = json!(["test_event", { "message": "load", "n": 1 }]);
                let start = Instant::now();
                if let Err(e) = ws.send(Message::text(format!("42{payload}"))).await {
                    let _ = probe.send(Err(e.to_string()));
                    return;
                }
                pending = Some((start, probe));
            }
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => {
                        if let Some((_, probe)) = pending.take() {
                            let _ = probe.send(Err("socket closed".into()));
                        }
                        return;
                    }
                };
                if text.as_str() == "2" {
                    if ws.send(Message::text("3")).await.is_err() {
                        return;
                    }
                } else if text.starts_with("42[\"test_response\"")
                    && let Some((start, probe)) = pending.take()
                {
                    let _ = probe.send(Ok(start.elapsed().as_micros() as u64));
                }
            }
        }
    }
}

/// One round trip through `client`, bounded by [`PACKET_TIMEOUT`].
async fn probe(client: &Client) -> Result<u64, String> {
    let (tx, rx) = oneshot::channel();
    client
        .probes
        .send(tx)
        .await
        .map_err(|_| "client task gone".to_string())?;
    tokio::time::timeout(PACKET_TIMEOUT, rx)
        .await
        .map_err(|_| "no test_response within the timeout".to_string())?
        .map_err(|_| "client task gone".to_string())?
}

/// Opens clients until `clients.len() == target`, the budget runs out or connects keep
/// failing. Returns the number of failed attempts and the first error.
async fn connect_many(
    addr: SocketAddr,
    clients: &mut Vec<Client>,
    target: usize,
) -> (usize, Option<String>) {
    let deadline = Instant::now() + CONNECT_BUDGET;
    let mut failures = 0;
    let mut first_error = None;
    while clients.len() < target && Instant::now() < deadline && failures < 200 {
        let batch = (target - clients.len()).min(CONNECT_CONCURRENCY * 8);
        let results: Vec<Result<Client, String>> = futures::stream::iter(0..batch)
            .map(|_| connect(addr))
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            match result {
                Ok(client) => clients.push(client),
                Err(e) => {
                    failures += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    (failures, first_error)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// A row of the final table.
struct Row {
    name: String,
    n: String,
    p50: String,
    p95: String,
    p99: String,
    extra: String,
}

fn latency_row(name: &str, mut samples: Vec<u64>, extra: String) -> Row {
    samples.sort_unstable();
    Row {
        name: name.into(),
        n: samples.len().to_string(),
        p50: ms(percentile(&samples, 50.0)),
        p95: ms(percentile(&samples, 95.0)),
        p99: ms(percentile(&samples, 99.0)),
        extra,
    }
}

/// `HTTP_TASKS` tasks sending `request` back to back for `duration`.
async fn http_load(
    http: &reqwest::Client,
    target: Target,
    duration: Duration,
) -> (Vec<u64>, usize, Duration) {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..HTTP_TASKS)
        .map(|_| {
            let http = http.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = 0;
                // Bounded by the deadline and, as a backstop, by a count.
                for _ in 0..1_000_000 {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let t = Instant::now();
                    let ok =
                        match tokio::time::timeout(PACKET_TIMEOUT, target.request(&http).send())
                            .await
                        {
                            Ok(Ok(response)) => {
                                response.status().is_success() && response.bytes().await.is_ok()
                            }
                            _ => false,
                        };
                    if ok {
                        samples.push(t.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (s, e) = task.await.expect("http task");
        samples.extend(s);
        errors += e;
    }
    (samples, errors, start.elapsed())
}

async fn run() {
    let server = Server::start().await;
    let addr = server.addr;
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // Warm-up: a few connections and requests, so lazily built state is in the baseline.
    {
        let mut warm = Vec::new();
        connect_many(addr, &mut warm, 16).await;
        for client in &warm {
            let _ = probe(client).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let skip_socketio = std::env::var("SANCTUARY_LOAD_SKIP_SOCKETIO").is_ok_and(|v| v == "1");
    if !skip_socketio {
        socketio(&server, &mut rows, &mut notes).await;
    }

    // 3. HTTP throughput, side by side.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(HTTP_TASKS)
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let unrecorded = Server::start_with(Some("[telemetry]\nrecord_calls = false\n")).await;
    http_comparison(&server, &unrecorded, &http, &mut rows, &mut notes).await;
    drop(unrecorded);

    // 4. Records dropped by the call recorder during all of that.
    let dropped = dropped_records(&http, addr).await;

    // 5. RSS over plugin calls.
    let total_calls: usize = std::env::var(CALLS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tool = Target::Tool(format!(
        "http://{addr}/api/mcp/servers/time/tools/current_time"
    ));
    let rss_start = server.rss_kib();
    let mut made = 0;
    let mut rss_marks = Vec::new();
    for mark in [100_000usize.min(total_calls), total_calls] {
        if mark > made {
            made += calls(&http, tool.clone(), mark - made).await;
        }
        rss_marks.push((made, server.rss_kib()));
    }
    let dropped_after = dropped_records(&http, addr).await;

    println!();
    println!("| measurement | n | p50 | p95 | p99 | notes |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.name, row.n, row.p50, row.p95, row.p99, row.extra
        );
    }
    println!();
    println!(
        "call records dropped (sanctuary_call_records_dropped_total): {dropped} after the comparison, {dropped_after} after the RSS run"
    );
    println!("server VmRSS: {rss_start} KiB before the RSS run");
    for (calls, rss) in &rss_marks {
        println!("server VmRSS after {calls} more plugin calls: {rss} KiB");
    }
    if let [(_, first), (_, last)] = rss_marks[..] {
        println!(
            "RSS growth from the first mark to the last: {:+.1}%",
            (last as f64 / first as f64 - 1.0) * 100.0
        );
    }
    for note in notes {
        println!("note: {note}");
    }
    server.process.kill().await;

    // 6. Cold start.
    cold_start().await;
}

/// Sections 1 and 2: memory per idle Socket.IO connection, `test_event` round trips.
async fn socketio(server: &Server, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let addr = server.addr;
    // 1. Memory per idle connection.
    let rss_before = server.rss_kib();
    let fds_before = server.open_fds();
    let mut clients = Vec::with_capacity(IDLE_CONNECTIONS);
    let started = Instant::now();
    let (failures, first_error) = connect_many(addr, &mut clients, IDLE_CONNECTIONS).await;
    let connect_time = started.elapsed();
    let rss_connected = server.rss_kib();
    tokio::time::sleep(IDLE_HOLD).await;
    let rss_after = server.rss_kib();
    let alive = clients.iter().filter(|c| !c.task.is_finished()).count();
    println!(
        "idle: VmRSS right after connecting {rss_connected} KiB; after a {} s hold {rss_after} KiB; \
         {alive} clients still open",
        IDLE_HOLD.as_secs()
    );
    let n = clients.len();
    let per_conn_kib = (rss_after.saturating_sub(rss_before)) as f64 / n.max(1) as f64;
    println!(
        "idle: {n} connected in {:.1} s ({failures} failed{}); server fds {fds_before} -> {}; \
         VmRSS {rss_before} KiB -> {rss_after} KiB",
        connect_time.as_secs_f64(),
        first_error
            .as_deref()
            .map(|e| format!(", first error: {e}"))
            .unwrap_or_default(),
        server.open_fds(),
    );
    if n < IDLE_CONNECTIONS {
        notes.push(format!(
            "only {n} of {IDLE_CONNECTIONS} idle connections opened ({failures} failed: {})",
            first_error.unwrap_or_default()
        ));
    }
    rows.push(Row {
        name: "server RSS per idle Socket.IO connection".into(),
        n: n.to_string(),
        p50: format!("{per_conn_kib:.1} KiB"),
        p95: "—".into(),
        p99: "—".into(),
        extra: format!(
            "VmRSS {rss_before} → {rss_after} KiB after a {} s hold (a ping cycle); {alive} still open",
            IDLE_HOLD.as_secs()
        ),
    });

    // 2. test_event round trip with RTT_CLIENTS connected: close the rest first.
    clients.truncate(RTT_CLIENTS);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected = clients.len();
    println!(
        "rtt: {connected} clients connected; server fds {}",
        server.open_fds()
    );
    let mut errors = 0;
    let mut sequential = Vec::new();
    let started = Instant::now();
    for _ in 0..RTT_SEQUENTIAL_ROUNDS {
        for client in &clients {
            match probe(client).await {
                Ok(us) => sequential.push(us),
                Err(_) => errors += 1,
            }
        }
    }
    let rate = sequential.len() as f64 / started.elapsed().as_secs_f64();
    rows.push(latency_row(
        &format!("test_event RTT, one at a time, {connected} connected"),
        sequential,
        format!("{rate:.0} round trips/s, {errors} failed"),
    ));
    let mut errors = 0;
    let mut burst = Vec::new();
    let started = Instant::now();
    for _ in 0..RTT_BURST_ROUNDS {
        let results: Vec<_> = futures::future::join_all(clients.iter().map(probe)).await;
        for result in results {
            match result {
                Ok(us) => burst.push(us),
                Err(_) => errors += 1,
            }
        }
    }
    let rate = burst.len() as f64 / started.elapsed().as_secs_f64();
    rows.push(latency_row(
        &format!("test_event RTT, all {connected} at once"),
        burst,
        format!("{rate:.0} round trips/s, {errors} failed"),
    ));
    drop(clients);
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Interleaved rounds over the four routes; rows with each route's median rate and its
/// ratio to ping's.
async fn http_comparison(
    server: &Server,
    unrecorded: &Server,
    http: &reqwest::Client,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) {
    let addr = server.addr;
    let tool_url = format!("http://{addr}/api/mcp/servers/time/tools/current_time");
    let check: Value = http
        .post(&tool_url)
        .json(&json!({"timezone": "UTC"}))
        .send()
        .await
        .expect("tool route answers")
        .json()
        .await
        .expect("tool JSON");
    assert_eq!(check["success"], true, "the time tool answers: {check}");
    // The default scout project is the working directory, named after it.
    let project = server
        .root
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("a directory name");
    let scout_url = format!("http://{addr}/api/v1/scout_agent/projects/{project}/status");
    let scout = http.get(&scout_url).send().await.expect("scout answers");
    assert_eq!(scout.status(), 200, "the scout status answers");
    let targets = [
        (
            "GET /api/dev/ping",
            Target::Get(format!("http://{addr}/api/dev/ping")),
        ),
        (
            "POST /api/mcp/servers/time/tools/current_time",
            Target::Tool(tool_url),
        ),
        ("GET /health", Target::Get(format!("http://{addr}/health"))),
        (
            "GET /api/v1/scout_agent/projects/{name}/status",
            Target::Get(scout_url),
        ),
        (
            "POST /api/mcp/servers/time/tools/current_time, recording off",
            Target::Tool(format!(
                "http://{}/api/mcp/servers/time/tools/current_time",
                unrecorded.addr
            )),
        ),
    ];
    for (_, target) in &targets {
        http_load(http, target.clone(), HTTP_WARMUP).await;
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut samples: Vec<Vec<u64>> = vec![Vec::new(); targets.len()];
    let mut errors = vec![0; targets.len()];
    for _ in 0..ROUNDS {
        for (i, (_, target)) in targets.iter().enumerate() {
            let (s, e, elapsed) = http_load(http, target.clone(), ROUND_DURATION).await;
            rates[i].push(s.len() as f64 / elapsed.as_secs_f64());
            samples[i].extend(s);
            errors[i] += e;
        }
    }
    let medians: Vec<f64> = rates
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect();
    println!();
    println!(
        "| route ({HTTP_TASKS} tasks, {ROUNDS} interleaved rounds of {} s) | median req/s | % of ping |",
        ROUND_DURATION.as_secs()
    );
    println!("|---|---|---|");
    for (i, (name, _)) in targets.iter().enumerate() {
        println!(
            "| `{name}` | {:.0} | {:.1} % |",
            medians[i],
            medians[i] / medians[0] * 100.0
        );
    }
    println!(
        "call recording costs the tool route {:.1} % of its throughput (recording on {:.0} req/s, off {:.0} req/s)",
        (1.0 - medians[1] / medians[4]) * 100.0,
        medians[1],
        medians[4]
    );
    for (i, (name, _)) in targets.iter().enumerate() {
        rows.push(latency_row(
            &format!("{name}, {HTTP_TASKS} tasks"),
            std::mem::take(&mut samples[i]),
            format!(
                "median {:.0} req/s over {ROUNDS} rounds, {} failed",
                medians[i], errors[i]
            ),
        ));
        if errors[i] > 0 {
            notes.push(format!("{name}: {} requests failed", errors[i]));
        }
    }
}

/// `sanctuary_call_records_dropped_total` from `/metrics`.
async fn dropped_records(http: &reqwest::Client, addr: SocketAddr) -> u64 {
    let text = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("sanctuary_call_records_dropped_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// Sends `count` requests to `target` from [`HTTP_TASKS`] tasks; how many succeeded.
async fn calls(http: &reqwest::Client, target: Target, count: usize) -> usize {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..HTTP_TASKS)
        .map(|_| {
            let (http, target, next) = (http.clone(), target.clone(), next.clone());
            tokio::spawn(async move {
                let mut ok = 0;
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    if let Ok(Ok(r)) =
                        tokio::time::timeout(PACKET_TIMEOUT, target.request(&http).send()).await
                        && r.status().is_success()
                        && r.bytes().await.is_ok()
                    {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += task.await.expect("call task");
    }
    ok
}

/// Exec to the first `GET /health/live` answer, and to `/health/ready` 200, with nothing
/// compiled and no database yet.
async fn cold_start() {
    let data = tempfile::TempDir::new().expect("tempdir");
    let cache = data.path().join("cache");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let exec = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(data.path())
        .env("SANCTUARY_CACHE_DIR", &cache)
        .env("RUST_LOG", "warn")
        .env_remove("SANCTUARY_CONFIG")
        .env_remove("SANCTUARY_DATABASE_URL")
        .current_dir(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sanctuary binary");
    let http = reqwest::Client::new();
    let live = format!("http://127.0.0.1:{port}/health/live");
    let ready = format!("http://127.0.0.1:{port}/health/ready");
    let mut first_answer = None;
    let mut ready_at = None;
    while exec.elapsed() < Duration::from_secs(180) && ready_at.is_none() {
        if first_answer.is_none() {
            if let Ok(r) = http.get(&live).send().await
                && r.status().is_success()
            {
                first_answer = Some(exec.elapsed());
            }
        } else if let Ok(r) = http.get(&ready).send().await
            && r.status().is_success()
        {
            ready_at = Some(exec.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let shown = |d: Option<Duration>| {
        d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "not within 180 s".into())
    };
    println!(
        "cold start (fresh data and cache directory): first answer of /health/live {} after exec; /health/ready 200 after {}",
        shown(first_answer),
        shown(ready_at)
    );
    let _ = child.kill().await;
}

/// The routes under HTTP load.
#[derive(Clone)]
enum Target {
    Get(String),
    Tool(String),
}

impl Target {
    fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        match self {
            Target::Get(url) => http.get(url),
            Target::Tool(url) => http
                .post(url)
                .header("content-type", "application/json")
                .body(r#"{"timezone":"UTC"}"#),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` needs no special handling here.
    let fd_soft = std::process::Command::new("sh")
        .args(["-c", "ulimit -n"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("open-file limit (ulimit -n): {fd_soft}");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(900), run())
                .await
                .expect("the load bench finishes within 15 minutes");
        });
}
