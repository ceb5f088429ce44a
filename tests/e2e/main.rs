//! End-to-end: start the real `sanctuary` binary on port 0 with a fresh data directory,
//! read the bound address from its log, and talk to it as a frontend does: HTTP for the
//! seed routes, Socket.IO (Engine.IO v4 over a real WebSocket and over long-polling) for
//! `connected` and `test_event`.

mod cluster;
mod containment;
mod hostile;
mod observability;
mod openapi;
mod startup;

use futures::{SinkExt, StreamExt};
use sanctuary_test_support::sanctuary;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn serves_the_seed_routes_over_real_http() {
    let server = sanctuary!().spawn().await;

    let root: Value = server.get_json("/").await;
    assert_eq!(root["status"], "success");
    assert!(root["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(root["timestamp"].is_string());

    let ping: Value = server.get_json("/api/dev/ping").await;
    assert_eq!(ping["status"], "pong");
    assert_eq!(ping["service"], "podplay-sanctuary");
    assert!(ping["version"].is_string() && ping["timestamp"].is_string());

    let echo = server
        .client
        .post(server.url("/api/dev/echo"))
        .json(&json!({ "hello": "sanctuary", "n": 3 }))
        .send()
        .await
        .expect("echo answers");
    assert_eq!(echo.status(), 200);
    let echo: Value = echo.json().await.expect("json");
    assert!(
        echo.to_string().contains("\"hello\":\"sanctuary\""),
        "the body comes back: {echo}"
    );

    let missing = server
        .client
        .get(server.url("/no/such/route"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("a JSON error body");
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn health_shows_the_probe_plugins_and_the_database() {
    // The embedded defaults, relative `./data` included, as `cargo run --release` runs.
    let server = sanctuary!().with_defaults().spawn().await;
    // The plugins compile in the background on a fresh data directory; the probes are
    // all listed once the server says it is ready.
    server.wait_ready().await;
    let health: Value = server.get_json("/health").await;
    assert_eq!(health["backend_running"], true);
    assert!(health["uptime"].as_f64().is_some_and(|u| u >= 0.0));
    let services = &health["services"];
    assert_eq!(services["database"], "operational", "{health}");
    assert_eq!(
        services["mama_bear_agent"], "running",
        "the local provider is loaded"
    );
    let system = services["system"]
        .as_str()
        .expect("the system probe reports");
    assert!(["healthy", "degraded"].contains(&system), "{health}");
    assert!(["healthy", "degraded"].contains(&health["status"].as_str().unwrap_or("")));

    let detailed: Value = server.get_json("/health/detailed").await;
    let ids: Vec<&str> = detailed["plugins"]
        .as_array()
        .expect("plugins listed")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    for bundled in ["git", "local", "system", "time"] {
        assert!(ids.contains(&bundled), "{bundled} loaded: {ids:?}");
    }
    assert_eq!(detailed["database"]["kind"], "sqlite");
    assert!(
        detailed["system"]["memory"]["total_bytes"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    let probe = detailed["probes"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == "system"))
        .expect("system probe detail");
    assert!(
        probe["metrics"].as_array().is_some_and(|m| !m.is_empty()),
        "{probe}"
    );
    let local = detailed["ai_providers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == "local"))
        .expect("the offline provider is listed");
    assert_eq!(local["offline"], true, "{local}");
}

#[tokio::test]
async fn a_fresh_start_answers_at_once_says_what_is_loading_and_never_answers_wrongly() {
    // Nothing compiled yet: every bundled component compiles after the port opens.
    let server = sanctuary!().with_defaults().spawn().await;
    let live: Value = server.get_json("/health/live").await;
    assert_eq!(live["status"], "alive");
    let ping: Value = server.get_json("/api/dev/ping").await;
    assert_eq!(ping["status"], "pong");
    // /health answers while plugins load, naming those still loading.
    let health: Value = server.get_json("/health").await;
    assert_eq!(health["service"], "podplay-sanctuary");
    let loading = health["loading"]
        .as_array()
        .expect("loading listed")
        .clone();
    if !loading.is_empty() {
        assert_eq!(health["checks"]["plugins"]["status"], "loading", "{health}");
        assert_ne!(health["status"], "healthy", "{health}");
    }

    // A plugin route asked for during the load waits for it: the right answer, not a
    // 404 for a plugin that is merely not loaded yet.
    let (tool, ready) = tokio::join!(
        server
            .client
            .post(server.url("/api/mcp/servers/time/tools/current_time"))
            .json(&json!({ "timezone": "UTC" }))
            .send(),
        server.wait_ready(),
    );
    let tool = tool.expect("the tool route answers");
    assert_eq!(tool.status(), 200, "waited for the time plugin");
    let body: Value = tool.json().await.expect("JSON");
    assert!(body.to_string().contains("UTC"), "{body}");
    for answer in &ready {
        assert_eq!(answer["ready"], false, "{answer}");
        assert!(
            answer["loading"].as_array().is_some_and(|l| !l.is_empty()),
            "a 503 names what is loading: {answer}"
        );
    }

    let ready: Value = server.get_json("/health/ready").await;
    assert_eq!(ready["loading"], json!([]));
    let health: Value = server.get_json("/health").await;
    assert_eq!(health["loading"], json!([]));
    assert!(health["services"]["system"].is_string(), "{health}");
}

#[tokio::test]
async fn socket_io_over_websocket_announces_services_and_answers_test_event() {
    let server = sanctuary!().spawn().await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");

    let open = next_text(&mut ws).await;
    assert!(
        open.starts_with('0') && open.contains("\"sid\""),
        "engine.io open: {open}"
    );
    ws.send(Message::text("40")).await.expect("send connect");

    let mut connected = None;
    let mut namespace_ok = false;
    while connected.is_none() {
        let packet = next_text(&mut ws).await;
        if packet.starts_with("40") {
            namespace_ok = true;
        } else if let Some((event, data)) = parse_event(&packet) {
            if event == "connected" {
                connected = Some(data);
            }
        } else if packet == "2" {
            ws.send(Message::text("3")).await.expect("pong");
        }
    }
    assert!(namespace_ok, "the namespace connect was acknowledged");
    let connected = connected.expect("connected event");
    assert_eq!(connected["status"], "success");
    assert_eq!(
        connected["services"]["database"], "operational",
        "{connected}"
    );

    let payload = json!(["test_event", { "message": "hi", "n": 1 }]);
    ws.send(Message::text(format!("42{payload}")))
        .await
        .expect("emit");
    let response = loop {
        let packet = next_text(&mut ws).await;
        if let Some((event, data)) = parse_event(&packet)
            && event == "test_response"
        {
            break data;
        }
    };
    assert_eq!(response["status"], "success");
    assert_eq!(response["message"], "Test event processed successfully");
    assert_eq!(response["data"]["message"], "hi");
}

#[tokio::test]
async fn socket_io_over_long_polling_announces_services() {
    let server = sanctuary!().spawn().await;
    // A new connection for every request, as browsers and the official clients may do:
    // the session must be found whichever connection a poll arrives on.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let base = server.url("/socket.io/?EIO=4&transport=polling");
    let open = client.get(&base).send().await.expect("handshake");
    let open = open.text().await.expect("text");
    let handshake: Value =
        serde_json::from_str(open.trim_start_matches('0')).expect("open packet JSON");
    let sid = handshake["sid"].as_str().expect("sid");
    let session = format!("{base}&sid={sid}");
    let posted = client
        .post(&session)
        .body("40")
        .send()
        .await
        .expect("post connect");
    assert_eq!(posted.status(), 200);

    let mut seen = String::new();
    for _ in 0..5 {
        let polled = client.get(&session).send().await.expect("poll");
        seen.push_str(&polled.text().await.expect("text"));
        seen.push('\u{1e}');
        if seen.contains("\"connected\"") {
            break;
        }
    }
    let event = seen
        .split('\u{1e}')
        .filter_map(parse_event)
        .find(|(name, _)| name == "connected")
        .unwrap_or_else(|| panic!("connected over polling: {seen}"));
    assert_eq!(event.1["status"], "success");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("a packet within 20 s")
            .expect("socket open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            return text.to_string();
        }
    }
}

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
