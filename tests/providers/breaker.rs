//! The circuit breaker: after `failures` consecutive failures a provider is skipped (no
//! traffic reaches it) for `open_ms`; then one probe call goes through, and its outcome
//! closes the breaker or opens it again. The status endpoint shows each step.

use sanctuary_test_support::mocks::{Behavior, Mock, Vendor};
use std::time::Duration;

use super::support::{Server, plugin_tables};

const OPEN_MS: u64 = 1000;

#[tokio::test]
async fn the_breaker_opens_after_n_failures_then_half_opens_and_recovers_after_open_ms() {
    let openai = Mock::start(Vendor::OpenAi, "OpenAI is back").await;
    let anthropic = Mock::start(Vendor::Anthropic, "Anthropic covering").await;
    let gemini = Mock::start(Vendor::Gemini, "unused").await;
    openai.set(Behavior::Fail(503));
    let server = Server::start(&format!(
        r#"{}
[routes.mama-bear]
chain = [{{ provider = "openai-compatible" }}, {{ provider = "anthropic" }}]
retries = 0

[breaker]
failures = 2
open_ms = {OPEN_MS}
"#,
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;

    // Two failures, each covered by the next provider: the breaker opens.
    for n in 1..=2 {
        let (status, body) = server.chat("Hello?").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["provider"], "anthropic");
        assert_eq!(openai.hits(), n);
    }
    let status = server.provider_status("openai-compatible").await;
    let breaker = &status["breaker"];
    assert_eq!(breaker["state"], "open", "{status}");
    assert_eq!(breaker["consecutive_failures"], 2);
    assert_eq!(breaker["times_opened"], 1);
    assert!(
        breaker["last_error"]
            .as_str()
            .expect("last error")
            .contains("503"),
        "{breaker}"
    );
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["serving"], "anthropic");
    let reason = route["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("openai-compatible breaker open"),
        "{reason}"
    );
    assert_eq!(route["chain"][0]["status"], "breaker-open");

    // While open, no traffic reaches the provider.
    for _ in 0..3 {
        let (status, body) = server.chat("Hello?").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["provider"], "anthropic");
    }
    assert_eq!(openai.hits(), 2, "skipped while the breaker is open");
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["last"]["attempts"][0]["outcome"], "skipped");

    // After open_ms: half-open. A probe that fails opens it again.
    tokio::time::sleep(Duration::from_millis(OPEN_MS + 100)).await;
    let status = server.provider_status("openai-compatible").await;
    assert_eq!(status["breaker"]["state"], "half-open", "{status}");
    assert_eq!(
        server.route_status("mama-bear").await["chain"][0]["status"],
        "probe"
    );
    let (_, body) = server.chat("Hello?").await;
    assert_eq!(body["metadata"]["provider"], "anthropic");
    assert_eq!(openai.hits(), 3, "exactly one probe");
    let status = server.provider_status("openai-compatible").await;
    assert_eq!(status["breaker"]["state"], "open");
    assert_eq!(status["breaker"]["times_opened"], 2);

    // The upstream recovers; after another open_ms the probe succeeds and closes it.
    openai.set(Behavior::Answer);
    tokio::time::sleep(Duration::from_millis(OPEN_MS + 100)).await;
    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "openai-compatible");
    assert_eq!(body["response"], "OpenAI is back");
    let status = server.provider_status("openai-compatible").await;
    assert_eq!(status["breaker"]["state"], "closed");
    assert_eq!(status["breaker"]["consecutive_failures"], 0);
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["serving"], "openai-compatible");
    assert_eq!(route["reason"], "first healthy in chain");
    for _ in 0..2 {
        let (_, body) = server.chat("Hello?").await;
        assert_eq!(body["metadata"]["provider"], "openai-compatible");
    }
}

#[tokio::test]
async fn with_every_breaker_open_the_route_answers_503_at_once() {
    let openai = Mock::start(Vendor::OpenAi, "unused").await;
    let anthropic = Mock::start(Vendor::Anthropic, "unused").await;
    let gemini = Mock::start(Vendor::Gemini, "unused").await;
    openai.set(Behavior::Fail(500));
    let server = Server::start(&format!(
        r#"{}
[routes.mama-bear]
chain = [{{ provider = "openai-compatible" }}]
retries = 0

[breaker]
failures = 1
open_ms = 60000
"#,
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;
    let (status, _) = server.chat("Hello?").await;
    assert_eq!(status, 503);
    let (status, body) = server.chat("Hello?").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("breaker open"),
        "{body}"
    );
    assert_eq!(
        openai.hits(),
        1,
        "the second call never reached the upstream"
    );
}
