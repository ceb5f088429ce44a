//! `POST /api/chat/stream`: each vendor's streamed answer (OpenAI chunks, Anthropic
//! message events, Gemini `alt=sse`) arrives as `chunk` events in order, then `done` with
//! the ChatResponse; a failure is an `error` event.

use sanctuary_test_support::mocks::{Behavior, Mock, USAGE, Vendor, pieces};
use serde_json::{Value, json};

use super::support::{Server, plugin_tables, sse_events};

const REPLY: &str = "Streaming answers arrive piece by piece";

#[tokio::test]
async fn every_vendor_streams_its_answer_as_chunk_events_then_done() {
    let openai = Mock::start(Vendor::OpenAi, REPLY).await;
    let anthropic = Mock::start(Vendor::Anthropic, REPLY).await;
    let gemini = Mock::start(Vendor::Gemini, REPLY).await;
    let server = Server::start(&format!(
        r#"{}
[routes.via-openai]
chain = [{{ provider = "openai-compatible" }}]
[routes.via-anthropic]
chain = [{{ provider = "anthropic" }}]
[routes.via-gemini]
chain = [{{ provider = "gemini", model = "gemini-mock-pro" }}]
"#,
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;

    for (route, provider, model) in [
        ("via-openai", "openai-compatible", "gpt-mock"),
        ("via-anthropic", "anthropic", "claude-mock"),
        ("via-gemini", "gemini", "gemini-mock-pro"),
    ] {
        let (status, headers, text) = server
            .post_text(
                "/api/chat/stream",
                &json!({"message": "Stream please", "route": route, "session_id": format!("s-{route}")}),
            )
            .await;
        assert_eq!(status, 200, "{route}: {text}");
        assert!(
            headers["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/event-stream")
        );
        assert_eq!(headers["x-sanctuary-route"], route);
        let events = sse_events(&text);
        let (chunks, rest) = events.split_at(events.len() - 1);
        assert!(chunks.len() >= pieces(REPLY).len(), "{route}: {text}");
        let mut streamed = String::new();
        for (i, (name, data)) in chunks.iter().enumerate() {
            assert_eq!(name, "chunk", "{route}: {text}");
            let chunk: Value = serde_json::from_str(data).expect("json");
            assert_eq!(chunk["index"], i, "{route}");
            streamed.push_str(chunk["chunk"].as_str().expect("text"));
        }
        assert_eq!(streamed, REPLY, "{route}");
        let (name, data) = &rest[0];
        assert_eq!(name, "done", "{route}");
        let reply: Value = serde_json::from_str(data).expect("json");
        assert_eq!(reply["success"], true);
        assert_eq!(reply["response"], REPLY);
        assert_eq!(reply["session_id"], format!("s-{route}"));
        assert_eq!(reply["metadata"]["provider"], provider);
        assert_eq!(reply["metadata"]["route"], route);
        assert_eq!(reply["metadata"]["model_used"], model);
        assert_eq!(
            reply["metadata"]["tokens_used"],
            u64::from(USAGE.0 + USAGE.1)
        );
    }
    // Each upstream was asked to stream.
    assert_eq!(openai.bodies()[0]["stream"], true);
    assert_eq!(anthropic.bodies()[0]["stream"], true);
    assert_eq!(gemini.hits(), 1);

    // The streamed turn was stored in its session like any other.
    let (status, session) = server.get("/api/chat/sessions/s-via-anthropic").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["messages"][1]["content"], REPLY);
}

#[tokio::test]
async fn a_stream_whose_providers_all_fail_ends_with_an_error_event() {
    let openai = Mock::start(Vendor::OpenAi, REPLY).await;
    let anthropic = Mock::start(Vendor::Anthropic, REPLY).await;
    let gemini = Mock::start(Vendor::Gemini, REPLY).await;
    openai.set(Behavior::Fail(502));
    let server = Server::start(&format!(
        r#"{}
[routes.mama-bear]
chain = [{{ provider = "openai-compatible" }}]
retries = 0
"#,
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;
    let (status, _, text) = server
        .post_text("/api/chat/stream", &json!({"message": "Stream please"}))
        .await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    assert_eq!(events.len(), 1, "{text}");
    let (name, data) = &events[0];
    assert_eq!(name, "error");
    let error: Value = serde_json::from_str(data).expect("json");
    assert_eq!(error["success"], false);
    assert_eq!(error["code"], "unavailable");
    assert_eq!(error["status"], 503);
}
