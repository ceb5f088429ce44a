//! Tests of [`super`] (providers).

use super::*;
use crate::runtime::provider::{Message, Role};
use crate::testing::chats;

/// A chat on the route named `route`, not streamed, without the cache: the route lookup
/// and the failover walk, as `chat::answer` runs them.
async fn chat(
    chats: &Chats,
    route: &str,
    request: &ChatRequest,
    progress: Option<&dyn Progress>,
) -> Result<Served, ProviderError> {
    let route = named_route(chats, route)?;
    serve(chats, &route, request, progress).await
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![Message {
            role: Role::User,
            content: text.into(),
        }],
        max_tokens: None,
        temperature: None,
        streaming: false,
        context: None,
    }
}

#[tokio::test]
async fn no_route_has_a_provider_when_none_is_loaded() {
    let (state, _calls, _dir) = chats();
    assert!(provider_for_route(&state, MAMA_BEAR).is_none());
    assert!(provider_for_route(&state, VERTEX_GARDEN).is_none());
}

#[tokio::test]
async fn a_chat_on_a_route_with_nothing_loaded_says_no_provider_and_why() {
    let (state, _calls, _dir) = chats();
    let err = chat(&state, VERTEX_GARDEN, &request("hi"), None)
        .await
        .expect_err("nothing is loaded");
    assert!(matches!(err, ProviderError::NoProvider { .. }), "{err}");
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reasons: Vec<_> = err
        .attempts()
        .iter()
        .map(|a| (a.provider.as_str(), a.reason.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("gemini", Some("not loaded")),
            ("local", Some("not loaded"))
        ]
    );
    let outcome = state
        .providers
        .last_outcome(VERTEX_GARDEN)
        .expect("recorded");
    assert!(!outcome.ok);
}

#[tokio::test]
async fn the_observer_is_told_of_every_chat_call_with_its_outcome() {
    let (state, calls, _dir) = chats();
    let _ = chat(&state, VERTEX_GARDEN, &request("hi"), None).await;
    let _ = chat(&state, MAMA_BEAR, &request("hi"), None).await;
    let seen: Vec<(String, bool, Option<&str>)> = calls
        .0
        .lock()
        .expect("calls")
        .iter()
        .map(|c| (c.route.clone(), c.ok, c.error_code))
        .collect();
    assert_eq!(
        seen,
        [
            (VERTEX_GARDEN.to_string(), false, Some("no_provider")),
            (MAMA_BEAR.to_string(), false, Some("no_provider")),
        ]
    );
}

#[tokio::test]
async fn a_link_disabled_by_its_flag_is_never_tried() {
    let (state, _calls, _dir) = chats();
    let route = RouteConfig {
        chain: vec![ChainEntry {
            enabled: false,
            ..ChainEntry::new("local")
        }],
        timeout_ms: None,
        retries: None,
        backoff_ms: None,
    };
    let changes = state
        .providers
        .set_file_routes([("flagged".to_string(), route)].into());
    assert_eq!(changes.len(), 1, "{changes:?}");
    let err = chat(&state, "flagged", &request("hi"), None)
        .await
        .expect_err("nothing to try");
    assert!(matches!(err, ProviderError::NoProvider { .. }), "{err}");
    assert_eq!(
        err.attempts()[0].reason.as_deref(),
        Some("disabled by flag")
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404() {
    let (state, _calls, _dir) = chats();
    let err = chat(&state, "nope", &request("hi"), None)
        .await
        .expect_err("unknown");
    assert_eq!(err.status(), StatusCode::NOT_FOUND);
    assert_eq!(err.code(), "unknown_route");
}

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    let base = Duration::from_millis(100);
    for _ in 0..50 {
        let first = backoff(base, 1);
        assert!((50..=100).contains(&first.as_millis()), "{first:?}");
        let third = backoff(base, 3);
        assert!((200..=400).contains(&third.as_millis()), "{third:?}");
    }
    assert_eq!(backoff(Duration::from_secs(5), 10), MAX_BACKOFF);
    let spread: std::collections::BTreeSet<_> = (0..20).map(|_| backoff(base, 2)).collect();
    assert!(spread.len() > 1, "jitter varies the waits");
}

#[test]
fn only_transient_failures_are_retried() {
    let plugin = |code| CallError::Plugin {
        plugin: "p".into(),
        code,
        message: String::new(),
    };
    assert!(retryable(&plugin("unavailable")));
    assert!(retryable(&plugin("failed")));
    assert!(!retryable(&plugin("denied")));
    assert!(retryable(&CallError::Timeout {
        plugin: "p".into(),
        ms: 1
    }));
    assert!(!retryable(&CallError::MemoryCap {
        plugin: "p".into(),
        mb: 1
    }));
}

#[test]
fn failures_map_to_the_statuses_a_client_can_act_on() {
    let exhausted = |last| ProviderError::Exhausted {
        route: "r".into(),
        last,
        attempts: Vec::new(),
    };
    let plugin = |code| CallError::Plugin {
        plugin: "p".into(),
        code,
        message: String::new(),
    };
    assert_eq!(
        exhausted(plugin("unavailable")).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        exhausted(plugin("denied")).status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        exhausted(CallError::Timeout {
            plugin: "p".into(),
            ms: 5
        })
        .status(),
        StatusCode::GATEWAY_TIMEOUT
    );
    let invalid = ProviderError::InvalidInput {
        error: plugin("invalid-input"),
        attempts: Vec::new(),
    };
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert_eq!(invalid.code(), "invalid-input");
}
