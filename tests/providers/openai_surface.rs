//! The OpenAI-compatible surface: `/v1/chat/completions` (plain and streamed) and
//! `/v1/models`, checked field by field, then driven by the official `openai` Python SDK.

use std::process::Command;

use sanctuary_test_support::mocks::{Behavior, Mock, USAGE, Vendor};
use serde_json::{Value, json};

use super::support::{Server, plugin_tables, sse_events};

async fn server() -> (Server, Mock, Mock, Mock) {
    let openai = Mock::start(Vendor::OpenAi, "Hello from the OpenAI mock").await;
    let anthropic = Mock::start(Vendor::Anthropic, "Hello from the Anthropic mock").await;
    let gemini = Mock::start(Vendor::Gemini, "Hello from the Gemini mock").await;
    let server = Server::start(&format!(
        r#"{}
[routes.mama-bear]
chain = [{{ provider = "anthropic" }}, {{ provider = "local" }}]
retries = 0
"#,
        plugin_tables(&openai, &anthropic, &gemini)
    ))
    .await;
    (server, openai, anthropic, gemini)
}

fn messages() -> Value {
    json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"}
    ])
}

#[tokio::test]
async fn a_plain_completion_is_a_chat_completion_object_naming_its_provider() {
    let (server, openai, anthropic, gemini) = server().await;
    for (model, provider, route, served_model, upstream) in [
        (
            "mama-bear",
            "anthropic",
            Some("mama-bear"),
            "claude-mock",
            &anthropic,
        ),
        (
            "openai-compatible/gpt-mock-large",
            "openai-compatible",
            None,
            "gpt-mock-large",
            &openai,
        ),
        (
            "gemini-mock-pro",
            "gemini",
            None,
            "gemini-mock-pro",
            &gemini,
        ),
        ("gemini", "gemini", None, "gemini-mock", &gemini),
    ] {
        let (status, headers, body) = server
            .post(
                "/v1/chat/completions",
                &json!({"model": model, "messages": messages(), "max_tokens": 50}),
            )
            .await;
        assert_eq!(status, 200, "{model}: {body}");
        assert_eq!(headers["x-sanctuary-provider"], provider, "{model}");
        assert_eq!(
            headers
                .get("x-sanctuary-route")
                .map(|v| v.to_str().expect("ascii")),
            route,
            "{model}"
        );
        assert!(body["id"].as_str().expect("id").starts_with("chatcmpl-"));
        assert_eq!(body["object"], "chat.completion");
        assert!(body["created"].as_i64().expect("created") > 1_700_000_000);
        assert_eq!(body["model"], served_model, "{model}");
        let choice = &body["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], upstream.reply());
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": USAGE.0, "completion_tokens": USAGE.1, "total_tokens": USAGE.0 + USAGE.1})
        );
    }
    // The system message and max_tokens reached the upstream in its own format.
    let sent = &anthropic.bodies()[0];
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["max_tokens"], 50);

    // The offline provider answers too, by `provider/model`.
    let (status, headers, body) = server
        .post(
            "/v1/chat/completions",
            &json!({"model": "local/local-echo", "messages": [{"role": "user", "content": "what time is it?"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-sanctuary-provider"], "local");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .expect("text")
            .contains("UTC")
    );
}

#[tokio::test]
async fn a_streamed_completion_is_chunks_then_a_finish_reason_then_done() {
    let (server, _openai, anthropic, _gemini) = server().await;
    let response = server
        .client
        .post(server.url("/v1/chat/completions"))
        .json(
            &json!({"model": "mama-bear", "messages": messages(), "stream": true,
                      "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-sanctuary-provider"], "anthropic");
    assert_eq!(response.headers()["x-sanctuary-route"], "mama-bear");
    let text = response.text().await.expect("body");
    let events = sse_events(&text);
    let (last, chunks) = events.split_last().expect("events");
    assert_eq!(last.1, "[DONE]", "{text}");
    let chunks: Vec<Value> = chunks
        .iter()
        .map(|(_, data)| serde_json::from_str(data).expect("json chunk"))
        .collect();
    let id = chunks[0]["id"].clone();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut content = String::new();
    let mut finish = None;
    let mut usage = None;
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id, "one id for the whole stream");
        assert_eq!(chunk["model"], "claude-mock");
        if let Some(choice) = chunk["choices"].get(0) {
            if let Some(piece) = choice["delta"]["content"].as_str() {
                assert!(finish.is_none(), "content after the finish reason");
                content.push_str(piece);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(reason.to_string());
            }
        }
        if !chunk["usage"].is_null() {
            usage = Some(chunk["usage"].clone());
        }
    }
    assert_eq!(content, anthropic.reply());
    assert_eq!(finish.as_deref(), Some("stop"));
    assert_eq!(
        usage.expect("usage chunk")["total_tokens"],
        USAGE.0 + USAGE.1
    );
    assert!(chunks.len() > 4, "streamed in pieces: {text}");
}

#[tokio::test]
async fn failures_on_the_openai_surface_use_openais_error_shape() {
    let (server, openai, _anthropic, _gemini) = server().await;
    openai.set(Behavior::Fail(503));
    for stream in [false, true] {
        let (status, _, body) = server
            .post(
                "/v1/chat/completions",
                &json!({"model": "openai-compatible/gpt-mock", "messages": messages(), "stream": stream}),
            )
            .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["type"], "server_error");
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("503")
        );
    }
    let (status, _, body) = server
        .post(
            "/v1/chat/completions",
            &json!({"model": "nope", "messages": messages()}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn the_model_list_has_the_routes_and_every_providers_models() {
    let (server, _openai, _anthropic, _gemini) = server().await;
    let (status, body) = server.get("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    for id in [
        "mama-bear",
        "vertex-garden",
        "openai-compatible/gpt-mock",
        "openai-compatible/gpt-mock-large",
        "anthropic/claude-mock",
        "gemini/gemini-mock-pro",
        "local/local-echo",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let entry = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|m| m["id"] == "anthropic/claude-mock")
        .expect("entry");
    assert_eq!(entry["object"], "model");
    assert_eq!(entry["owned_by"], "anthropic");
    assert!(entry["created"].is_i64());
}

/// Whether `python3` with the `openai` package is here. Under CI its absence is a failure;
/// elsewhere the test is skipped with a notice.
fn python_with_openai() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "the OpenAI SDK test needs python3 with the `openai` package (`python3 -m pip install openai`; .ci/run installs it)"
        );
        eprintln!(
            "NOTICE: skipping the OpenAI Python SDK test: python3 with the `openai` package is not installed (python3 -m pip install openai)"
        );
    }
    found
}

#[tokio::test]
async fn the_official_openai_python_sdk_gets_plain_and_streamed_completions() {
    if !python_with_openai() {
        return;
    }
    let (server, _openai, anthropic, _gemini) = server().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/providers/openai_client.py"
    );
    let base_url = server.url("/v1");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&base_url)
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the SDK script printed no JSON ({e}):\n{stdout}\n{stderr}"));

    let plain = &report["plain"];
    assert_eq!(plain["object"], "chat.completion");
    assert_eq!(plain["content"], anthropic.reply());
    assert_eq!(plain["finish_reason"], "stop");
    assert_eq!(plain["model"], "claude-mock");
    assert_eq!(plain["usage"]["total_tokens"], USAGE.0 + USAGE.1);
    assert_eq!(plain["provider_header"], "anthropic");

    let stream = &report["stream"];
    assert_eq!(stream["content"], anthropic.reply());
    assert!(stream["chunks"].as_u64().expect("count") > 2, "{stream}");
    assert_eq!(stream["finish_reason"], "stop");
    assert_eq!(stream["usage"]["total_tokens"], USAGE.0 + USAGE.1);

    let models: Vec<&str> = report["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m.as_str().expect("id"))
        .collect();
    assert!(models.contains(&"mama-bear"), "{models:?}");
    assert!(models.contains(&"anthropic/claude-mock"), "{models:?}");

    assert_eq!(report["not_found"]["status"], 404);
    assert_eq!(report["not_found"]["code"], "model_not_found");
}
