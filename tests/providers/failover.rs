//! Failover along a route's chain: a provider that answers 500, hangs past the route's
//! timeout, cannot be reached, or is denied its key is passed over for the next; one that
//! judges the request bad is not; a host outside a plugin's manifest is never contacted.

use std::time::{Duration, Instant};

use sanctuary_test_support::mocks::{Behavior, Mock, USAGE, Vendor, refused_port};
use serde_json::json;

use super::support::{ANTHROPIC_KEY, OPENAI_KEY, Server, plugin_tables, sse_events};

struct Upstreams {
    openai: Mock,
    anthropic: Mock,
    gemini: Mock,
}

async fn upstreams() -> Upstreams {
    Upstreams {
        openai: Mock::start(Vendor::OpenAi, "Hello from the OpenAI mock").await,
        anthropic: Mock::start(Vendor::Anthropic, "Hello from the Anthropic mock").await,
        gemini: Mock::start(Vendor::Gemini, "Hello from the Gemini mock").await,
    }
}

fn config(up: &Upstreams, route: &str) -> String {
    format!(
        "{}\n{route}",
        plugin_tables(&up.openai, &up.anthropic, &up.gemini)
    )
}

#[tokio::test]
async fn a_provider_answering_500_is_failed_over_to_the_next_in_the_chain() {
    let up = upstreams().await;
    up.openai.set(Behavior::Fail(500));
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "anthropic" }]
retries = 0
"#,
    ))
    .await;

    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"], up.anthropic.reply());
    let metadata = &body["metadata"];
    assert_eq!(metadata["provider"], "anthropic");
    assert_eq!(metadata["model_used"], "claude-mock");
    assert_eq!(metadata["tokens_used"], u64::from(USAGE.0 + USAGE.1));
    assert_eq!(metadata["prompt_tokens"], USAGE.0);
    assert!(metadata["processing_time"].as_f64().expect("seconds") > 0.0);
    assert_eq!(up.openai.hits(), 1, "tried once, no retries configured");
    assert_eq!(up.anthropic.hits(), 1);
    // The secrets file's keys reached each upstream.
    assert_eq!(up.openai.keys(), [OPENAI_KEY]);
    assert_eq!(up.anthropic.keys(), [ANTHROPIC_KEY]);

    let route = server.route_status("mama-bear").await;
    let attempts = &route["last"]["attempts"];
    assert_eq!(attempts[0]["provider"], "openai-compatible");
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[0]["code"], "unavailable");
    assert!(
        attempts[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("500"),
        "{attempts}"
    );
    assert_eq!(attempts[1]["provider"], "anthropic");
    assert_eq!(attempts[1]["outcome"], "ok");
    let openai = server.provider_status("openai-compatible").await;
    assert_eq!(openai["breaker"]["consecutive_failures"], 1);
    assert_eq!(openai["breaker"]["last_error_code"], "unavailable");
}

#[tokio::test]
async fn a_provider_hanging_past_the_route_timeout_is_failed_over() {
    let up = upstreams().await;
    up.openai.set(Behavior::Hang);
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "gemini" }]
timeout_ms = 800
retries = 0
"#,
    ))
    .await;

    let started = Instant::now();
    let (status, body) = server.chat("Anyone there?").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "gemini");
    assert_eq!(body["metadata"]["model_used"], "gemini-mock");
    assert_eq!(body["response"], up.gemini.reply());
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(
        took < Duration::from_secs(10),
        "the timeout cut the hang: {took:?}"
    );
    assert_eq!(up.openai.hits(), 1);

    let route = server.route_status("mama-bear").await;
    assert_eq!(route["last"]["attempts"][0]["code"], "timeout");
}

#[tokio::test]
async fn a_provider_whose_port_refuses_connections_is_failed_over() {
    let up = upstreams().await;
    let port = refused_port().await;
    let toml = format!(
        r#"
[plugins.openai-compatible]
base_url = "http://127.0.0.1:{port}/v1"
default_model = "gpt-mock"

[plugins.anthropic]
base_url = "{}"
default_model = "claude-mock"

[routes.mama-bear]
chain = [{{ provider = "openai-compatible" }}, {{ provider = "anthropic" }}]
retries = 2
backoff_ms = 10
"#,
        up.anthropic.base_url()
    );
    let server = Server::start(&toml).await;

    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "anthropic");
    let route = server.route_status("mama-bear").await;
    let attempts = route["last"]["attempts"].as_array().expect("attempts");
    let refused: Vec<_> = attempts
        .iter()
        .filter(|a| a["provider"] == "openai-compatible")
        .collect();
    assert_eq!(refused.len(), 3, "first try and two retries: {attempts:?}");
    assert!(
        refused
            .iter()
            .all(|a| a["reason"].as_str().expect("reason").contains("refused")),
        "{attempts:?}"
    );
    assert_eq!(refused[2]["retry"], 2);
}

#[tokio::test]
async fn retries_hit_the_same_provider_again_before_moving_on() {
    let up = upstreams().await;
    up.openai.set(Behavior::Fail(503));
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "anthropic" }]
retries = 2
backoff_ms = 20

[breaker]
failures = 10
"#,
    ))
    .await;

    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "anthropic");
    assert_eq!(up.openai.hits(), 3);
}

#[tokio::test]
async fn a_denied_key_is_failed_over_but_never_retried() {
    let up = upstreams().await;
    up.openai.set(Behavior::Fail(401));
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "gemini" }]
retries = 3
"#,
    ))
    .await;
    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "gemini");
    assert_eq!(
        up.openai.hits(),
        1,
        "a bad key does not get better on retry"
    );
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["last"]["attempts"][0]["code"], "denied");
}

#[tokio::test]
async fn invalid_input_is_answered_400_and_not_failed_over() {
    let up = upstreams().await;
    up.openai.set(Behavior::Fail(400));
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "anthropic" }]
"#,
    ))
    .await;
    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["details"]["code"], "invalid-input");
    assert_eq!(up.openai.hits(), 1, "not retried");
    assert_eq!(up.anthropic.hits(), 0, "not failed over");
    // The caller's mistake does not count against the provider.
    let openai = server.provider_status("openai-compatible").await;
    assert_eq!(openai["breaker"]["consecutive_failures"], 0);
}

#[tokio::test]
async fn when_every_provider_fails_the_answer_says_so_with_the_last_status() {
    let up = upstreams().await;
    up.openai.set(Behavior::Fail(503));
    up.anthropic.set(Behavior::Fail(529));
    let server = Server::start(&config(
        &up,
        r#"
[routes.mama-bear]
chain = [{ provider = "openai-compatible" }, { provider = "anthropic" }]
retries = 0
"#,
    ))
    .await;
    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["details"]["code"], "unavailable");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("anthropic"),
        "{body}"
    );
}

#[tokio::test]
async fn a_plugin_pointed_at_a_host_outside_its_manifest_is_denied_without_any_traffic() {
    let up = upstreams().await;
    // `example.invalid` is not in the plugin's `permissions.network`: the host refuses the
    // request before any DNS lookup or connection.
    let toml = format!(
        r#"
[plugins.openai-compatible]
base_url = "http://example.invalid/v1"

[plugins.anthropic]
base_url = "{}"
default_model = "claude-mock"

[routes.mama-bear]
chain = [{{ provider = "openai-compatible" }}]

[routes.with-fallback]
chain = [{{ provider = "openai-compatible" }}, {{ provider = "anthropic" }}]
"#,
        up.anthropic.base_url()
    );
    let server = Server::start(&toml).await;

    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["details"]["code"], "denied");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("example.invalid"), "{message}");
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["last"]["attempts"][0]["code"], "denied");
    assert_eq!(
        route["last"]["attempts"]
            .as_array()
            .expect("attempts")
            .len(),
        1,
        "a denied request is not retried"
    );

    // With a second provider the route still answers.
    let (status, _, text) = server
        .post_text(
            "/api/chat/stream",
            &json!({"message": "Hello?", "route": "with-fallback"}),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let (name, data) = events.last().expect("a final event");
    assert_eq!(name, "done", "{text}");
    let reply: serde_json::Value = serde_json::from_str(data).expect("json");
    assert_eq!(reply["metadata"]["provider"], "anthropic");
    assert_eq!(up.anthropic.hits(), 1);
}
