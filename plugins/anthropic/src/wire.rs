//! Anthropic's Messages wire format: the request body (system messages in the top-level
//! `system` field), the answer in one piece (`content[].text`), the answer as server-sent
//! events (`message_start`, `content_block_delta`, `message_delta`, `message_stop`,
//! `error`), and error bodies (`{type: "error", error: {type, message}}`).

use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::http::{self, sse};
use sanctuary_plugin_api::provider::{ChatRequest, ChatResponse, Role, Usage, estimate_tokens};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest vendor explanation kept in an error message.
const MAX_MESSAGE_CHARS: usize = 500;

/// The JSON body of a chat call for `model`; `max_tokens` applies when the request sets
/// none.
pub(crate) fn request_body(
    request: &ChatRequest,
    model: &str,
    max_tokens: u32,
) -> Result<Value, PluginError> {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let messages: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect();
    if messages.is_empty() {
        return Err(PluginError::invalid_input(
            "the conversation has only system messages; Anthropic needs a user message",
        ));
    }
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens.unwrap_or(max_tokens),
        "messages": messages,
        "stream": request.streaming,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(sanctuary_plugin_api::provider::temperature_value(
            temperature,
            1.0
        )?);
    }
    Ok(body)
}

/// A message (the answer), or the `message` of a `message_start` event.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<TokenCounts>,
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
struct TokenCounts {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

/// One event of a stream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StreamEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<MessageBody>,
    content_block: Option<Block>,
    delta: Option<Delta>,
    usage: Option<TokenCounts>,
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Delta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    stop_reason: Option<String>,
}

/// The answer of a call that was not streamed. `model` and `prompt_tokens` stand in for
/// what the answer does not report.
pub(crate) fn parse_message(
    body: &Value,
    model: &str,
    prompt_tokens: u32,
) -> Result<ChatResponse, PluginError> {
    let message = MessageBody::deserialize(body)
        .map_err(|err| PluginError::failed(format!("unexpected answer from Anthropic: {err}")))?;
    if message.kind.as_deref() == Some("error") {
        return Err(error_in_body(message.error.as_ref()));
    }
    let text: String = message
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .collect();
    let counts = message.usage.unwrap_or_default();
    Ok(ChatResponse {
        usage: Usage {
            prompt_tokens: counts.input_tokens.unwrap_or(prompt_tokens),
            completion_tokens: counts
                .output_tokens
                .unwrap_or_else(|| estimate_tokens(&text)),
        },
        model: message
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| model.into()),
        finish_reason: finish_reason(message.stop_reason.as_deref()),
        text,
    })
}

/// Reads a streamed answer, passing each piece of text to `emit` as it arrives.
pub(crate) fn read_stream<I>(
    events: I,
    model: &str,
    prompt_tokens: u32,
    emit: &mut dyn FnMut(&str),
) -> Result<ChatResponse, PluginError>
where
    I: Iterator<Item = Result<sse::Event, PluginError>>,
{
    let mut text = String::new();
    let mut reported_model = None;
    let mut counts = TokenCounts::default();
    let mut stop_reason = None;
    let mut stopped = false;
    let mut piece = |t: &str, text: &mut String| {
        if !t.is_empty() {
            emit(t);
            text.push_str(t);
        }
    };
    for event in events {
        let event = event?;
        let data: StreamEvent = event.json()?;
        // The data's `type` repeats the event's name; either will do.
        let kind = data.kind.clone().unwrap_or_else(|| event.event.clone());
        match kind.as_str() {
            "message_start" => {
                if let Some(message) = data.message {
                    reported_model = message.model.filter(|m| !m.is_empty());
                    merge(&mut counts, message.usage);
                }
            }
            "content_block_start" => {
                if let Some(Block {
                    kind,
                    text: Some(t),
                }) = data.content_block
                    && kind == "text"
                {
                    piece(&t, &mut text);
                }
            }
            "content_block_delta" => {
                if let Some(Delta {
                    kind,
                    text: Some(t),
                    ..
                }) = data.delta
                    && kind.as_deref().is_none_or(|k| k == "text_delta")
                {
                    piece(&t, &mut text);
                }
            }
            "message_delta" => {
                if let Some(reason) = data.delta.and_then(|d| d.stop_reason) {
                    stop_reason = Some(reason);
                }
                merge(&mut counts, data.usage);
            }
            "message_stop" => {
                stopped = true;
                break;
            }
            "error" => return Err(error_in_body(data.error.as_ref())),
            _ => {} // `ping`, `content_block_stop`, and what later versions add.
        }
    }
    if !stopped {
        return Err(PluginError::unavailable(
            "Anthropic's stream ended before the answer was complete",
        ));
    }
    Ok(ChatResponse {
        usage: Usage {
            prompt_tokens: counts.input_tokens.unwrap_or(prompt_tokens),
            completion_tokens: counts
                .output_tokens
                .unwrap_or_else(|| estimate_tokens(&text)),
        },
        model: reported_model.unwrap_or_else(|| model.into()),
        finish_reason: finish_reason(stop_reason.as_deref()),
        text,
    })
}

/// Later counts replace earlier ones (`message_delta` carries the final output count).
fn merge(counts: &mut TokenCounts, update: Option<TokenCounts>) {
    if let Some(update) = update {
        counts.input_tokens = update.input_tokens.or(counts.input_tokens);
        counts.output_tokens = update.output_tokens.or(counts.output_tokens);
    }
}

/// Anthropic's `stop_reason` in the words the other providers use.
fn finish_reason(stop_reason: Option<&str>) -> String {
    match stop_reason {
        None | Some("end_turn" | "stop_sequence") => "stop",
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        Some(other) => other,
    }
    .into()
}

/// The error for an error status `status` with body `body`.
pub(crate) fn upstream_error(status: u16, body: &str) -> PluginError {
    http::status_error(
        status,
        format!("Anthropic answered HTTP {status}: {}", error_message(body)),
    )
}

/// The explanation in an error body (`{type: "error", error: {type, message}}`), or the
/// text itself.
pub(crate) fn error_message(body: &str) -> String {
    let found = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        [
            v.pointer("/error/message"),
            v.get("message"),
            v.get("error"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| {
            m.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(String::from)
        })
    });
    let message = found.unwrap_or_else(|| body.trim().to_string());
    if message.is_empty() {
        return "no explanation given".into();
    }
    shorten(&message)
}

fn shorten(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// The error for an `error` object (`{type, message}`) of an `error` event or body, by
/// its type.
fn error_in_body(error: Option<&Value>) -> PluginError {
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let kind = field("type");
    let message = match field("message") {
        "" => "unknown error",
        m => m,
    };
    let message = format!("Anthropic reported an error ({kind}): {}", shorten(message));
    match kind {
        "invalid_request_error" | "not_found_error" | "request_too_large" => {
            PluginError::invalid_input(message)
        }
        "authentication_error" | "permission_error" => PluginError::denied(message),
        _ => PluginError::unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::http::Lines;
    use sanctuary_plugin_api::provider::Message;

    fn request(streaming: bool) -> ChatRequest {
        ChatRequest {
            model: None,
            messages: vec![
                Message::new(Role::System, "Be brief."),
                Message::new(Role::User, "Hi"),
                Message::new(Role::Assistant, "Hello!"),
                Message::new(Role::System, "Answer in English."),
                Message::new(Role::User, "Capital of France?"),
            ],
            max_tokens: None,
            temperature: Some(0.2),
            streaming,
            context: None,
        }
    }

    fn stream(body: &str) -> (Result<ChatResponse, PluginError>, Vec<String>) {
        let mut pieces = Vec::new();
        let result = read_stream(
            sse::events(Lines::from_chunks([body])),
            "asked-model",
            9,
            &mut |p| pieces.push(p.to_string()),
        );
        (result, pieces)
    }

    #[test]
    fn builds_the_messages_body_with_system_messages_on_top() {
        let body = request_body(&request(true), "claude-sonnet-4-5", 1024).expect("valid");
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "system": "Be brief.\n\nAnswer in English.",
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Capital of France?"}
                ],
                "temperature": 0.2,
                "stream": true
            })
        );
    }

    #[test]
    fn the_callers_max_tokens_wins_and_system_is_left_out_when_there_is_none() {
        let mut req = request(false);
        req.messages.retain(|m| m.role != Role::System);
        req.max_tokens = Some(50);
        req.temperature = None;
        let body = request_body(&req, "m", 1024).expect("valid");
        assert_eq!(body["max_tokens"], json!(50));
        assert!(body.get("system").is_none() && body.get("temperature").is_none());
    }

    #[test]
    fn refuses_a_conversation_of_system_messages_only() {
        let mut req = request(false);
        req.messages.retain(|m| m.role == Role::System);
        assert_eq!(
            request_body(&req, "m", 1).expect_err("no user").kind(),
            "invalid-input"
        );
    }

    #[test]
    fn parses_a_message_joining_its_text_blocks() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Paris"}, {"type": "tool_use", "id": "t"}, {"type": "text", "text": "."}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 3}
        });
        let answer = parse_message(&body, "claude-sonnet-4-5", 1).expect("valid");
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "claude-sonnet-4-5-20250929");
        assert_eq!(answer.finish_reason, "stop");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (25, 3)
        );
    }

    #[test]
    fn maps_stop_reasons_to_the_common_words() {
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("pause_turn")), "pause_turn");
    }

    #[test]
    fn reads_a_stream_emitting_each_piece() {
        let body = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"is.\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";
        let (answer, pieces) = stream(body);
        let answer = answer.expect("complete");
        assert_eq!(pieces, ["Par", "is."]);
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "claude-sonnet-4-5-20250929");
        assert_eq!(answer.finish_reason, "length");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (25, 15)
        );
    }

    #[test]
    fn an_error_event_is_typed_by_its_error_type() {
        let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let err = stream(body).0.expect_err("error event");
        assert_eq!(err.kind(), "unavailable");
        assert!(err.message().contains("Overloaded"), "{err:?}");
        let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}\n\n";
        assert_eq!(stream(body).0.expect_err("error").kind(), "denied");
    }

    #[test]
    fn a_stream_cut_short_is_unavailable() {
        let body = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Pa\"}}\n\n";
        let (answer, pieces) = stream(body);
        assert_eq!(answer.expect_err("cut").kind(), "unavailable");
        assert_eq!(pieces, ["Pa"]);
    }

    #[test]
    fn upstream_errors_carry_anthropics_message_and_pick_the_case() {
        let not_found = r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"},"request_id":"req_1"}"#;
        let err = upstream_error(404, not_found);
        assert_eq!(err.kind(), "invalid-input");
        assert_eq!(
            err.message(),
            "Anthropic answered HTTP 404: model: claude-9"
        );
        let auth = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(upstream_error(401, auth).kind(), "denied");
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(upstream_error(529, overloaded).kind(), "unavailable");
        assert_eq!(upstream_error(429, "").kind(), "unavailable");
        assert_eq!(
            upstream_error(500, "oops").message(),
            "Anthropic answered HTTP 500: oops"
        );
    }

    #[test]
    fn an_error_body_with_status_200_is_still_an_error() {
        let body = json!({"type": "error", "error": {"type": "api_error", "message": "Internal"}});
        assert_eq!(
            parse_message(&body, "m", 1).expect_err("error").kind(),
            "unavailable"
        );
    }
}
