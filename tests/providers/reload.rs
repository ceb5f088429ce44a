//! Swapping providers without a restart: editing the config file re-routes chats while
//! clients keep chatting (none is lost), changes a plugin's settings and the secrets, and a
//! broken file changes nothing. Bindings made through the admin API beat the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sanctuary_test_support::mocks::{Mock, Vendor};
use serde_json::{Value, json};

use super::support::{ADMIN_KEY, Server, eventually, plugin_tables};

fn routed_to(provider: &str) -> String {
    format!("[routes.mama-bear]\nchain = [{{ provider = \"{provider}\" }}]\n")
}

#[tokio::test]
async fn editing_the_config_file_swaps_the_provider_while_clients_chat_and_loses_no_request() {
    let openai = Mock::start(Vendor::OpenAi, "from openai").await;
    let anthropic = Mock::start(Vendor::Anthropic, "from anthropic").await;
    let gemini = Mock::start(Vendor::Gemini, "from gemini").await;
    let tables = plugin_tables(&openai, &anthropic, &gemini);
    let server =
        Arc::new(Server::start(&format!("{tables}\n{}", routed_to("openai-compatible"))).await);

    // Two clients chat in a loop, over HTTP and SSE, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|client| {
            let server = server.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut served = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = server.chat(&format!("client {client}")).await;
                    assert_eq!(status, 200, "a request failed during the swap: {body}");
                    served.push(
                        body["metadata"]["provider"]
                            .as_str()
                            .expect("provider")
                            .to_string(),
                    );
                }
                served
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(600)).await;
    server.rewrite_config(&format!("{tables}\n{}", routed_to("anthropic")));
    let swapped = eventually(Duration::from_secs(10), || async {
        server.route_status("mama-bear").await["serving"] == "anthropic"
    })
    .await;
    assert!(swapped, "the new route applied");
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.store(true, Ordering::SeqCst);

    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("the client never saw a failure"));
    }
    assert!(all.len() >= 4, "the clients chatted: {all:?}");
    assert_eq!(all.first().map(String::as_str), Some("openai-compatible"));
    assert_eq!(all.last().map(String::as_str), Some("anthropic"));
    assert!(
        all.iter()
            .all(|p| p == "openai-compatible" || p == "anthropic"),
        "{all:?}"
    );
    let route = server.route_status("mama-bear").await;
    assert_eq!(route["source"], "config");
    assert_eq!(route["chain"][0]["provider"], "anthropic");
    assert_eq!(openai.hits() + anthropic.hits(), all.len());
}

#[tokio::test]
async fn a_broken_config_file_keeps_the_routes_in_force_until_it_is_fixed() {
    let openai = Mock::start(Vendor::OpenAi, "from openai").await;
    let anthropic = Mock::start(Vendor::Anthropic, "from anthropic").await;
    let gemini = Mock::start(Vendor::Gemini, "from gemini").await;
    let tables = plugin_tables(&openai, &anthropic, &gemini);
    let server = Server::start(&format!("{tables}\n{}", routed_to("openai-compatible"))).await;

    // A typo (unknown key) and bad TOML: both refused, the old route keeps serving.
    server.rewrite_config(&format!(
        "{tables}\n[routes.mama-bear]\nchian = [{{ provider = \"gemini\" }}]\n"
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.rewrite_config("[routes.mama-bear\nchain = ");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, body) = server.chat("still there?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["provider"], "openai-compatible");

    server.rewrite_config(&format!("{tables}\n{}", routed_to("gemini")));
    let fixed = eventually(Duration::from_secs(10), || async {
        server.chat("now?").await.1["metadata"]["provider"] == "gemini"
    })
    .await;
    assert!(fixed, "the fixed file applied");
}

#[tokio::test]
async fn plugin_settings_and_secrets_follow_their_files() {
    let first = Mock::start(Vendor::OpenAi, "first upstream").await;
    let second = Mock::start(Vendor::OpenAi, "second upstream").await;
    let anthropic = Mock::start(Vendor::Anthropic, "unused").await;
    let gemini = Mock::start(Vendor::Gemini, "unused").await;
    let server = Server::start(&format!(
        "{}\n{}",
        plugin_tables(&first, &anthropic, &gemini),
        routed_to("openai-compatible")
    ))
    .await;
    let (_, body) = server.chat("which?").await;
    assert_eq!(body["response"], "first upstream");

    // [plugins.openai-compatible] now points at the second upstream: the plugin reloads.
    server.rewrite_config(&format!(
        "{}\n{}",
        plugin_tables(&second, &anthropic, &gemini),
        routed_to("openai-compatible")
    ));
    let moved = eventually(Duration::from_secs(10), || async {
        server.chat("which?").await.1["response"] == "second upstream"
    })
    .await;
    assert!(moved, "the plugin took its new base_url");

    // A new key in the secrets file reaches the upstream on the next call.
    super::support::write_atomic(&server.secrets_path, "OPENAI_API_KEY=sk-rotated\n");
    let rotated = eventually(Duration::from_secs(10), || async {
        server.chat("key?").await;
        second.keys().last().map(String::as_str) == Some("sk-rotated")
    })
    .await;
    assert!(rotated, "keys seen: {:?}", second.keys());
}

#[tokio::test]
async fn a_route_bound_through_the_api_beats_the_file_until_unbound() {
    let openai = Mock::start(Vendor::OpenAi, "from openai").await;
    let anthropic = Mock::start(Vendor::Anthropic, "from anthropic").await;
    let gemini = Mock::start(Vendor::Gemini, "from gemini").await;
    let server = Server::start(&format!(
        "{}\n{}",
        plugin_tables(&openai, &anthropic, &gemini),
        routed_to("openai-compatible")
    ))
    .await;
    let bind = |body: Value| {
        server
            .client
            .put(server.url("/api/providers/routes/mama-bear"))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
    };
    let response = bind(json!({"chain": [{"provider": "gemini"}], "retries": 0}))
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let (_, body) = server.chat("who?").await;
    assert_eq!(body["metadata"]["provider"], "gemini");
    assert_eq!(server.route_status("mama-bear").await["source"], "api");

    let response = server
        .client
        .delete(server.url("/api/providers/routes/mama-bear"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let (_, body) = server.chat("who?").await;
    assert_eq!(body["metadata"]["provider"], "openai-compatible");
}
