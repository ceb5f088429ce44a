//! Honest provider status: a route bound to a provider that lacks its API key and base
//! URL is warned about and shown as not configured (until the key arrives), and
//! `GET /api/providers` says who actually answered the last calls, not only who heads
//! the chain.

use std::time::Duration;

use sanctuary_test_support::mocks::{Behavior, Mock, Vendor};
use serde_json::json;

use super::support::{ADMIN_KEY, Server, eventually, plugin_tables, write_atomic};

#[tokio::test]
async fn a_provider_without_key_or_base_url_is_warned_about_and_shown_not_configured() {
    // openai-compatible keeps its defaults (api.openai.com) and no key is set anywhere.
    let server = Server::start_with_secrets(
        "[plugins.openai-compatible]\ndefault_model = \"gpt-mock\"\n",
        "# none yet\n",
    )
    .await;
    let response = server
        .client
        .put(server.url("/api/providers/routes/coder"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"chain": [{"provider": "openai-compatible"}, {"provider": "local"}]}))
        .send()
        .await
        .expect("bind");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let warnings: Vec<&str> = body["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0].contains("`openai-compatible` is not configured"),
        "{body}"
    );
    assert!(warnings[0].contains("OPENAI_API_KEY"), "{body}");
    assert!(warnings[0].contains("base_url"), "{body}");
    assert_eq!(
        body["route"]["chain"][0]["status"], "not-configured",
        "{body}"
    );
    assert_eq!(body["route"]["chain"][1]["status"], "ready", "{body}");
    assert!(
        body["route"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not configured")),
        "{body}"
    );

    let provider = server.provider_status("openai-compatible").await;
    assert_eq!(provider["loaded"], true, "{provider}");
    assert_eq!(provider["configured"], false, "{provider}");
    assert!(
        provider["configuration"]
            .as_str()
            .is_some_and(|c| c.contains("no API key")),
        "{provider}"
    );
    // A provider that needs no key is configured.
    assert_eq!(server.provider_status("local").await["configured"], true);

    // The key arrives in the secrets file: the provider is configured, no restart.
    write_atomic(&server.secrets_path, "OPENAI_API_KEY=sk-now-set\n");
    let configured = eventually(Duration::from_secs(10), || async {
        server.provider_status("openai-compatible").await["configured"] == true
    })
    .await;
    assert!(configured, "the new key was not seen");
    let route = server.route_status("coder").await;
    assert_eq!(route["chain"][0]["status"], "ready", "{route}");
}

#[tokio::test]
async fn the_status_names_who_served_the_last_calls_after_failing_over() {
    let openai = Mock::start(Vendor::OpenAi, "from openai").await;
    let anthropic = Mock::start(Vendor::Anthropic, "from anthropic").await;
    let gemini = Mock::start(Vendor::Gemini, "from gemini").await;
    gemini.set(Behavior::Fail(500));
    let server = Server::start(&format!(
        "{}\n[routes.mama-bear]\nchain = [{{ provider = \"gemini\" }}, {{ provider = \"local\" }}]\nretries = 0\n",
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["served"]["last_served_by"], serde_json::Value::Null);
    assert_eq!(route["served"]["calls"], 0);

    for _ in 0..3 {
        let (status, body) = server.chat("hello").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["provider"], "local", "{body}");
    }
    let route = server.route_status("mama-bear").await;
    // Gemini still heads the chain (its breaker is closed), but local answered.
    assert_eq!(route["serving"], "gemini", "{route}");
    let served = &route["served"];
    assert_eq!(served["last_served_by"], "local", "{route}");
    assert!(served["last_served_at"].is_string(), "{route}");
    assert_eq!(served["last_fallback"], true, "{route}");
    assert_eq!(served["calls"], 3, "{route}");
    assert_eq!(served["fallbacks"], 3, "{route}");
    assert_eq!(served["served_by"], json!({"local": 3}), "{route}");
    assert!(
        route["reason"]
            .as_str()
            .is_some_and(|r| r.contains("answered by local after failing over")),
        "{route}"
    );

    // Gemini recovers: the next call is its, and the status says so.
    gemini.set(Behavior::Answer);
    let (status, body) = server.chat("hello again").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "gemini", "{body}");
    let served = server.route_status("mama-bear").await["served"].clone();
    assert_eq!(served["last_served_by"], "gemini");
    assert_eq!(served["last_fallback"], false);
    assert_eq!(served["served_by"], json!({"local": 3, "gemini": 1}));
}
