//! Hostile clients against the real binary over real sockets: thousands of idle and slow
//! connections, a connection cap, slow bodies, cross-origin WebSockets, and rate limits on
//! every transport. Each attack runs while the host's own `GET /api/dev/ping` is asked, and
//! every ping must be answered **during** the attack. No timed assertions: limits are set
//! low so their effect shows within the tests' patience, which only bounds a hang.

use std::time::Duration;

use futures::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{Ws, next_text, parse_event};
use sanctuary_test_support::{Server, sanctuary};

/// How long anything awaited here may take before the test fails (a hang, not a speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// Raises this process's soft open-files limit to its hard limit (with `prlimit`, so the
/// server started next inherits it) and returns how many sockets a test may open: at most
/// `wanted`, leaving room for the test's and the server's other files.
fn sockets_allowed(wanted: usize) -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let field = |n: usize| -> Option<usize> {
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(n)?.parse().ok()
    };
    let hard = field(4);
    if let Some(hard) = hard {
        let _ = std::process::Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={hard}:{hard}"))
            .status();
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        .unwrap_or(1024);
    // Both ends of each socket live on this machine: the server's end counts against the
    // server's limit (inherited), the client's against this process's.
    wanted.min(soft.saturating_sub(512) / 2).max(100)
}

/// `GET /api/dev/ping` on a fresh connection: its status.
async fn ping(server: &Server) -> u16 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    match client.get(server.url("/api/dev/ping")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(e) => panic!("ping was not answered: {e}"),
    }
}

/// Whether the server closed `stream` (EOF or reset) before `PATIENCE` ran out.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[tokio::test]
async fn pings_are_answered_while_thousands_of_idle_and_slow_sockets_are_open_and_the_server_closes_them()
 {
    let count = sockets_allowed(2000);
    let server = sanctuary!()
        .envs(&[
            ("SANCTUARY_IDLE_TIMEOUT", "3"),
            ("SANCTUARY_HEADER_TIMEOUT", "3"),
        ])
        .spawn()
        .await;
    let mut idle = Vec::new();
    for _ in 0..count {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Slow headers: one header line a second, forever.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /api/dev/ping HTTP/1.1\r\nhost: x\r\n")
            .await
            .expect("write");
        slow.push(tokio::spawn(async move {
            for n in 0.. {
                let line = format!("x-slow-{n}: 1\r\n");
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                if n > 120 {
                    return false;
                }
            }
            false
        }));
    }
    for _ in 0..20 {
        assert_eq!(ping(&server).await, 200, "ping during the flood");
    }
    for stream in idle.iter_mut().take(50) {
        assert!(closed_by_server(stream).await, "an idle socket is closed");
    }
    for task in slow {
        assert!(
            task.await.expect("task"),
            "a slow-header socket is closed by the server"
        );
    }
    assert_eq!(ping(&server).await, 200);
}

#[tokio::test]
async fn a_slow_body_is_cut_off_and_pings_are_answered_meanwhile() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_BODY_TIMEOUT", "2")])
        .spawn()
        .await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(
            b"POST /api/dev/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
        )
        .await
        .expect("write");
    let dripping = tokio::spawn(async move {
        for _ in 0..120 {
            if stream.write_all(b" ").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    });
    for _ in 0..5 {
        assert_eq!(ping(&server).await, 200, "ping while a body drips");
    }
    assert!(
        dripping.await.expect("task"),
        "the server stops reading a body that does not arrive in time"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_with_a_json_503_and_served_again_once_freed() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_MAX_CONNECTIONS", "30")])
        .spawn()
        .await;
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(server.addr).await.expect("connect");
    extra
        .write_all(b"GET /api/dev/ping HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, extra.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body: Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).expect("JSON body");
    assert_eq!(body["success"], false);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_connections")),
        "{body}"
    );
    drop(held);
    let served = tokio::time::timeout(PATIENCE, async {
        loop {
            if ping(&server).await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "freed connections are served again");
}

fn upgrade_request(server: &Server, path: &str, origin: Option<&str>) -> http::Request<()> {
    let mut request = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    request
}

#[tokio::test]
async fn websockets_from_a_foreign_origin_are_refused_and_others_are_upgraded() {
    let server = sanctuary!().spawn().await;
    for path in ["/socket.io/?EIO=4&transport=websocket", "/ws/jobs"] {
        let refused = tokio_tungstenite::connect_async(upgrade_request(
            &server,
            path,
            Some("http://evil.example:3001"),
        ))
        .await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{path}");
            }
            other => panic!("{path}: a foreign origin was not refused: {other:?}"),
        }
        for origin in [None, Some("http://localhost:3000")] {
            let (_ws, response) =
                tokio_tungstenite::connect_async(upgrade_request(&server, path, origin))
                    .await
                    .unwrap_or_else(|e| panic!("{path} from {origin:?}: {e}"));
            assert_eq!(response.status(), 101);
        }
    }
    let polling = reqwest::Client::new()
        .get(server.url("/socket.io/?EIO=4&transport=polling"))
        .header("origin", "http://evil.example:3001")
        .send()
        .await
        .expect("answers");
    assert_eq!(polling.status(), 403);
}

/// A Socket.IO client over a websocket, connected to `/`.
async fn socketio(server: &Server) -> Ws {
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let open = next_text(&mut ws).await;
    assert!(open.starts_with('0'), "{open}");
    ws.send(Message::text("40")).await.expect("connect");
    loop {
        if next_text(&mut ws).await.starts_with("40") {
            return ws;
        }
    }
}

/// The next Socket.IO event on `ws`, answering engine.io pings.
async fn next_event(ws: &mut Ws) -> (String, Value) {
    loop {
        let packet = next_text(ws).await;
        if packet == "2" {
            ws.send(Message::text("3")).await.expect("pong");
        } else if let Some(event) = parse_event(&packet) {
            return event;
        }
    }
}

#[tokio::test]
async fn socketio_events_over_a_websocket_count_against_the_rate_limit_without_a_disconnect() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_RATE_LIMIT", "2")])
        .spawn()
        .await;
    let mut ws = socketio(&server).await;
    for n in 0..30 {
        let packet = json!(["ping", {"timestamp": n}]);
        ws.send(Message::text(format!("42{packet}")))
            .await
            .expect("emit");
    }
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 30 {
        let (event, data) = next_event(&mut ws).await;
        match event.as_str() {
            "pong" => pongs += 1,
            "error" => {
                assert_eq!(data["limit"], "rate_limit", "{data}");
                assert_eq!(data["event"], "ping", "{data}");
                limited += 1;
            }
            _ => {}
        }
    }
    assert!(
        limited > 0,
        "30 events at once exceed a limit of 2 a second"
    );
    assert!(pongs > 0, "the burst is served");
    // Still connected: once the bucket refills, events are handled again.
    let pong = tokio::time::timeout(PATIENCE, async {
        loop {
            tokio::time::sleep(Duration::from_millis(600)).await;
            ws.send(Message::text(r#"42["ping",{"timestamp":"again"}]"#))
                .await
                .expect("emit");
            let (event, data) = next_event(&mut ws).await;
            if event == "pong" {
                return data;
            }
        }
    })
    .await
    .expect("a pong once the limit allows");
    assert_eq!(pong["timestamp"], "again");
}

#[tokio::test]
async fn socketio_events_over_polling_count_against_the_rate_limit_without_a_disconnect() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_RATE_LIMIT", "2")])
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let base = server.url("/socket.io/?EIO=4&transport=polling");
    let open = client
        .get(&base)
        .send()
        .await
        .expect("handshake")
        .text()
        .await
        .expect("text");
    let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).expect("open");
    let session = format!("{base}&sid={}", handshake["sid"].as_str().expect("sid"));
    let post = |body: String| {
        let client = client.clone();
        let session = session.clone();
        async move {
            client
                .post(&session)
                .body(body)
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("40".into()).await, 200);
    let events: Vec<String> = (0..30)
        .map(|n| format!("42{}", json!(["ping", {"timestamp": n}])))
        .collect();
    assert_eq!(
        post(events.join("\u{1e}")).await,
        200,
        "one post, thirty events"
    );
    let (mut pongs, mut limited) = (0, 0);
    tokio::time::timeout(PATIENCE, async {
        while pongs + limited < 30 {
            let polled = client.get(&session).send().await.expect("poll");
            assert_eq!(polled.status(), 200, "the session is still open");
            for packet in polled.text().await.expect("text").split('\u{1e}') {
                match parse_event(packet) {
                    Some((event, _)) if event == "pong" => pongs += 1,
                    Some((event, data)) if event == "error" => {
                        assert_eq!(data["limit"], "rate_limit", "{data}");
                        limited += 1;
                    }
                    _ => {}
                }
            }
        }
    })
    .await
    .expect("every event answered");
    assert!(limited > 0 && pongs > 0, "{pongs} pongs, {limited} refused");
}

#[tokio::test]
async fn each_request_of_a_batch_counts_against_the_rate_limit() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_RATE_LIMIT", "2")])
        .spawn()
        .await;
    let requests: Vec<Value> = (0..20).map(|_| json!({"path": "/api/dev/ping"})).collect();
    let response = reqwest::Client::new()
        .post(server.url("/api/batch"))
        .json(&json!({ "requests": requests }))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let results: Vec<Value> = response.json().await.expect("a bare array");
    assert_eq!(results.len(), 20);
    assert_eq!(results[0]["success"], true);
    let limited = results.iter().filter(|r| r["status"] == 429).count();
    assert!(
        limited >= 15,
        "a burst of 4 cannot hold 20 requests: {limited} refused"
    );
}
