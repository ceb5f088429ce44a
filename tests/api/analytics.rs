//! Call recording, analytics, the response cache and the Prometheus metrics against a
//! running app: chats through the offline `local` provider (HTTP and Socket.IO) and a tool
//! call of the `time` plugin show up in `/api/analytics` and `/metrics`; with the cache
//! enabled in a config file, a repeated identical chat is a hit.

use std::path::Path;
use std::time::Instant;

use sanctuary::Config;
use sanctuary::cli::ServeArgs;
use serde_json::{Value, json};

use super::support::{Fixture, PATIENCE, Server, start};

const ADMIN_KEY: &str = "analytics-test-admin-key";
const QUESTION: &str = "Which plugins are installed?";

/// The `[cache]` section of a config file, read the way `sanctuary --config` reads it.
fn cache_from_config_file(dir: &Path) -> sanctuary::config::CacheConfig {
    let file = dir.join("sanctuary.toml");
    std::fs::write(
        &file,
        "[cache]\nenabled = true\nttl_secs = 600\nmax_entries = 50\nroutes = [\"mama-bear\"]\n",
    )
    .expect("write the config file");
    let args = ServeArgs {
        config: Some(file),
        data_dir: Some(dir.join("data")),
        ..ServeArgs::default()
    };
    Config::load(&args).expect("the config file loads").cache
}

async fn start_cached() -> (Fixture, tempfile::TempDir) {
    let config_dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_from_config_file(config_dir.path());
    let fx = start(move |config| {
        config.cache = cache;
        config.admin_token = Some(ADMIN_KEY.into());
    })
    .await;
    (fx, config_dir)
}

async fn metrics_text(server: &Server) -> String {
    let response = server
        .client
        .get(server.url("/metrics"))
        .header("accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.expect("text")
}

/// The value of the series written exactly as `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn delete(server: &Server, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = server.client.delete(server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn chats_and_tool_calls_are_counted_and_a_repeated_chat_is_a_cache_hit() {
    let (fx, _config_dir) = start_cached().await;
    let server = &fx.server;

    // Twice the same question on the cached route: the second is a hit.
    let (status, first) = server
        .post("/api/chat/mama-bear", &json!({"message": QUESTION}))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["metadata"]["cached"], false);
    assert_eq!(first["metadata"]["provider"], "local");
    let (status, second) = server
        .post("/api/chat/mama-bear", &json!({"message": QUESTION}))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["metadata"]["cached"], true, "{second}");
    assert_eq!(second["response"], first["response"]);
    assert_eq!(
        second["metadata"]["tokens_used"],
        first["metadata"]["tokens_used"]
    );

    // Streamed over Socket.IO, the same question is answered from the cache too.
    let mut socket = server.socket().await;
    socket
        .emit(
            "mama_bear_chat",
            json!({"message": QUESTION, "session_id": "s-cached"}),
        )
        .await;
    let reply = socket.wait_for("mama_bear_response").await;
    assert_eq!(reply["metadata"]["cached"], true, "{reply}");
    assert_eq!(reply["response"], first["response"]);

    // So is the OpenAI-compatible surface, asked the same on the same route.
    let (status, completion) = server
        .post(
            "/v1/chat/completions",
            &json!({"model": "mama-bear", "messages": [{"role": "user", "content": QUESTION}]}),
        )
        .await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["metadata"]["cached"], true, "{completion}");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        first["response"]
    );

    // A route the config file does not list is never cached.
    for _ in 0..2 {
        let (status, answer) = server
            .post(
                "/api/chat/vertex-garden/chat",
                &json!({"message": QUESTION}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["metadata"]["cached"], false);
    }

    // A plugin tool.
    let (status, tool) = server
        .post("/api/mcp/servers/time/tools/current_time", &json!({}))
        .await;
    assert_eq!(status, 200, "{tool}");
    assert_eq!(tool["success"], true, "{tool}");

    let (status, analytics) = server.get("/api/analytics?granularity=hour").await;
    assert_eq!(status, 200, "{analytics}");
    assert_eq!(analytics["success"], true);
    let data = &analytics["data"];
    let chat = &data["chat"];
    assert_eq!(chat["calls"], 6, "{chat}");
    assert_eq!(chat["cached"], 3);
    assert_eq!(chat["failures"], 0);
    assert_eq!(chat["by_route"]["mama-bear"]["calls"], 4);
    assert_eq!(chat["by_route"]["mama-bear"]["cached"], 3);
    assert_eq!(chat["by_route"]["vertex-garden"]["calls"], 2);
    assert_eq!(
        chat["by_provider"]["local"]["calls"], 3,
        "cache hits are not the provider's"
    );
    assert!(chat["tokens"].as_i64().is_some_and(|t| t > 0), "{chat}");
    let plugins = &data["plugins"]["by_plugin"];
    assert_eq!(plugins["time"]["kind"], "mcp-server");
    assert_eq!(
        plugins["time"]["operations"]["current_time"], 1,
        "{plugins}"
    );
    assert_eq!(
        plugins["local"]["operations"]["chat"], 3,
        "the provider ran three times"
    );
    assert!(data["totals"]["requests"].as_u64().is_some_and(|n| n >= 7));
    assert!(data["totals"]["latency_ms"]["p50"].is_number());
    let timeline = data["timeline"].as_array().expect("a timeline");
    assert_eq!(
        timeline
            .iter()
            .map(|b| b["chat_calls"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        6
    );

    let (status, stats) = server.get("/api/cache/stats").await;
    assert_eq!(status, 200);
    let stats = &stats["data"];
    assert_eq!(
        (stats["hits"].as_u64(), stats["misses"].as_u64()),
        (Some(3), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["entries"], 1);
    assert_eq!(stats["enabled"], true);
    assert_eq!(stats["ttl_secs"], 600);
    assert_eq!(stats["max_entries"], 50);

    let text = metrics_text(server).await;
    for (series, expected) in [
        (
            r#"sanctuary_http_requests_total{method="POST",route="/api/chat/mama-bear",status="200"}"#,
            2.0,
        ),
        (
            r#"sanctuary_http_requests_total{method="POST",route="/api/mcp/servers/{server_name}/tools/{tool}",status="200"}"#,
            1.0,
        ),
        (
            r#"sanctuary_chat_calls_total{route="mama-bear",provider="local",outcome="cached"}"#,
            3.0,
        ),
        (
            r#"sanctuary_chat_calls_total{route="mama-bear",provider="local",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"sanctuary_chat_calls_total{route="vertex-garden",provider="local",outcome="ok"}"#,
            2.0,
        ),
        (r#"sanctuary_cache_hits_total{route="mama-bear"}"#, 3.0),
        (r#"sanctuary_cache_misses_total{route="mama-bear"}"#, 1.0),
        ("sanctuary_socketio_connections", 1.0),
        (
            r#"sanctuary_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}"#,
            1.0,
        ),
        (r#"sanctuary_jobs{state="pending"}"#, 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(expected), "{series} in\n{text}");
    }
    // The tool call, plus the listing of its tools when it was loaded.
    let time_ok = r#"sanctuary_plugin_calls_total{plugin="time",kind="mcp-server",outcome="ok"}"#;
    assert!(sample(&text, time_ok).is_some_and(|n| n >= 2.0), "{text}");
    assert!(
        !text.contains("/api/mcp/servers/time/"),
        "raw paths never become labels"
    );

    // Clearing needs the admin key.
    let (status, refused) = delete(server, "/api/cache", None).await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["success"], false);
    let (status, cleared) = delete(server, "/api/cache", Some(ADMIN_KEY)).await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared, json!({"success": true, "data": {"cleared": 1}}));
    let (_, stats) = server.get("/api/cache/stats").await;
    assert_eq!(stats["data"]["entries"], 0);
    let (_, again) = server
        .post("/api/chat/mama-bear", &json!({"message": QUESTION}))
        .await;
    assert_eq!(
        again["metadata"]["cached"], false,
        "the provider answers again"
    );

    // The connection is uncounted once the client goes.
    drop(socket);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = metrics_text(server).await;
        if sample(&text, "sanctuary_socketio_connections") == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "still counted:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
