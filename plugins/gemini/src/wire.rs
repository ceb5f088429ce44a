//! The Gemini API's wire format: the path of a model's method, the `generateContent` body
//! (`contents` with roles `user`/`model`, `systemInstruction`, `generationConfig`), the
//! answer in one piece (`candidates[0].content.parts[].text`), the answer as server-sent
//! events (each `data:` a partial answer), and error bodies (`{error: {code, message,
//! status}}`).

use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::http::{self, sse};
use sanctuary_plugin_api::provider::{ChatRequest, ChatResponse, Role, Usage, estimate_tokens};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The longest vendor explanation kept in an error message.
const MAX_MESSAGE_CHARS: usize = 500;

/// The model's id as it goes into the URL (`models/` stripped); anything but letters,
/// digits, `.`, `_` and `-` is refused, so a caller cannot reach another path.
pub(crate) fn model_id(model: &str) -> Result<String, PluginError> {
    let id = model.strip_prefix("models/").unwrap_or(model);
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(PluginError::invalid_input(format!(
            "`{model}` is not a Gemini model name"
        )));
    }
    Ok(id.to_string())
}

/// The path, below the base URL, of the method that answers a chat call.
pub(crate) fn path(model: &str, streaming: bool) -> String {
    if streaming {
        format!("v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("v1beta/models/{model}:generateContent")
    }
}

/// The JSON body of a chat call.
pub(crate) fn request_body(request: &ChatRequest) -> Result<Value, PluginError> {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({ "role": role, "parts": [{ "text": m.content }] })
        })
        .collect();
    if contents.is_empty() {
        return Err(PluginError::invalid_input(
            "the conversation has only system messages; Gemini needs a user message",
        ));
    }
    let mut body = json!({ "contents": contents });
    if !system.is_empty() {
        body["systemInstruction"] = json!({ "parts": [{ "text": system.join("\n\n") }] });
    }
    let mut config = Map::new();
    if let Some(max_tokens) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        config.insert(
            "temperature".into(),
            json!(sanctuary_plugin_api::provider::temperature_value(
                temperature,
                2.0
            )?),
        );
    }
    if !config.is_empty() {
        body["generationConfig"] = Value::Object(config);
    }
    Ok(body)
}

/// An answer, or one chunk of a streamed one.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GenerateResponse {
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
    prompt_feedback: Option<PromptFeedback>,
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Candidate {
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CandidateContent {
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Part {
    text: Option<String>,
    /// A thinking model's reasoning, which is not part of the answer.
    thought: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: Option<u32>,
    candidates_token_count: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

impl GenerateResponse {
    fn parse(body: &Value) -> Result<Self, PluginError> {
        let answer = Self::deserialize(body)
            .map_err(|err| PluginError::failed(format!("unexpected answer from Gemini: {err}")))?;
        if let Some(error) = &answer.error {
            return Err(error_in_body(error));
        }
        if answer.candidates.is_empty()
            && let Some(reason) = answer
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_ref())
        {
            return Err(PluginError::invalid_input(format!(
                "Gemini refused the prompt (blockReason {reason})"
            )));
        }
        Ok(answer)
    }

    /// The answer text of this (partial) answer, and its finish reason.
    fn text_and_finish(&self) -> (String, Option<String>) {
        let Some(candidate) = self.candidates.first() else {
            return (String::new(), None);
        };
        let text = candidate
            .content
            .iter()
            .flat_map(|c| &c.parts)
            .filter(|p| !p.thought)
            .filter_map(|p| p.text.as_deref())
            .collect();
        (text, candidate.finish_reason.clone())
    }

    fn reported_model(&self) -> Option<String> {
        self.model_version.clone().filter(|m| !m.is_empty())
    }
}

/// The answer of a call that was not streamed. `model` and `prompt_tokens` stand in for
/// what the answer does not report.
pub(crate) fn parse_response(
    body: &Value,
    model: &str,
    prompt_tokens: u32,
) -> Result<ChatResponse, PluginError> {
    let answer = GenerateResponse::parse(body)?;
    if answer.candidates.is_empty() {
        return Err(PluginError::failed("Gemini's answer has no candidates"));
    }
    let (text, finish) = answer.text_and_finish();
    Ok(ChatResponse {
        usage: usage(answer.usage_metadata, prompt_tokens, &text),
        model: answer.reported_model().unwrap_or_else(|| model.into()),
        finish_reason: finish_reason(finish.as_deref()),
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
    let mut metadata = None;
    let mut finish = None;
    for event in events {
        let event = event?;
        if event.data.trim().is_empty() {
            continue;
        }
        let chunk = GenerateResponse::parse(&event.json()?)?;
        let (piece, chunk_finish) = chunk.text_and_finish();
        if !piece.is_empty() {
            emit(&piece);
            text.push_str(&piece);
        }
        finish = chunk_finish.or(finish);
        metadata = chunk.usage_metadata.or(metadata);
        reported_model = reported_model.or_else(|| chunk.reported_model());
    }
    if finish.is_none() {
        return Err(PluginError::unavailable(
            "Gemini's stream ended before the answer was complete",
        ));
    }
    Ok(ChatResponse {
        usage: usage(metadata, prompt_tokens, &text),
        model: reported_model.unwrap_or_else(|| model.into()),
        finish_reason: finish_reason(finish.as_deref()),
        text,
    })
}

fn usage(metadata: Option<UsageMetadata>, prompt_tokens: u32, text: &str) -> Usage {
    let metadata = metadata.unwrap_or_default();
    Usage {
        prompt_tokens: metadata.prompt_token_count.unwrap_or(prompt_tokens),
        completion_tokens: metadata
            .candidates_token_count
            .unwrap_or_else(|| estimate_tokens(text)),
    }
}

/// Gemini's `finishReason` in the words the other providers use.
fn finish_reason(reason: Option<&str>) -> String {
    match reason {
        None | Some("STOP") => "stop".into(),
        Some("MAX_TOKENS") => "length".into(),
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY",
        ) => "content_filter".into(),
        Some(other) => other.to_ascii_lowercase(),
    }
}

/// The error for an error status `status` with body `body`. A rejected key is `denied`
/// whatever the status (Gemini answers 400 `API_KEY_INVALID`).
pub(crate) fn upstream_error(status: u16, body: &str) -> PluginError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    // `streamGenerateContent` without `alt=sse` wraps errors in an array.
    let error = parsed
        .as_ref()
        .map(|v| v.get(0).unwrap_or(v))
        .and_then(|v| v.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .map(shorten)
        .unwrap_or_else(|| match body.trim() {
            "" => "no explanation given".into(),
            text => shorten(text),
        });
    let message = format!("Gemini answered HTTP {status}: {message}");
    if error.is_some_and(is_key_error) {
        return PluginError::denied(message);
    }
    http::status_error(status, message)
}

/// Whether an `error` object says the key is missing, wrong or not allowed.
fn is_key_error(error: &Value) -> bool {
    let status = error
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key_reason = error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
        .any(|r| r.starts_with("API_KEY"));
    key_reason || matches!(status, "UNAUTHENTICATED" | "PERMISSION_DENIED")
}

fn shorten(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// The error for an `error` object inside an answer or a stream, by its `status`.
fn error_in_body(error: &Value) -> PluginError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    let status = error
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = format!("Gemini reported an error ({status}): {}", shorten(message));
    if is_key_error(error) {
        return PluginError::denied(message);
    }
    match status {
        "INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => {
            PluginError::invalid_input(message)
        }
        _ => PluginError::unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::http::Lines;
    use sanctuary_plugin_api::provider::Message;

    fn request() -> ChatRequest {
        ChatRequest {
            model: None,
            messages: vec![
                Message::new(Role::System, "Be brief."),
                Message::new(Role::User, "Hi"),
                Message::new(Role::Assistant, "Hello!"),
                Message::new(Role::User, "Capital of France?"),
            ],
            max_tokens: Some(64),
            temperature: Some(0.7),
            streaming: false,
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
    fn model_names_are_checked_before_they_go_into_the_url() {
        assert_eq!(model_id("gemini-2.5-flash"), Ok("gemini-2.5-flash".into()));
        assert_eq!(
            model_id("models/gemini-2.5-pro"),
            Ok("gemini-2.5-pro".into())
        );
        for bad in ["", "../../v1/files", "gemini?key=x", "gemini 2", "models/"] {
            assert_eq!(
                model_id(bad).expect_err(bad).kind(),
                "invalid-input",
                "{bad}"
            );
        }
    }

    #[test]
    fn paths_name_the_method_and_ask_for_sse_when_streaming() {
        assert_eq!(
            path("gemini-2.5-flash", false),
            "v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            path("gemini-2.5-flash", true),
            "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn builds_the_generate_content_body() {
        assert_eq!(
            request_body(&request()).expect("valid"),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Hi"}]},
                    {"role": "model", "parts": [{"text": "Hello!"}]},
                    {"role": "user", "parts": [{"text": "Capital of France?"}]}
                ],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "generationConfig": {"maxOutputTokens": 64, "temperature": 0.7}
            })
        );
    }

    #[test]
    fn leaves_out_the_optional_parts_when_unset() {
        let mut req = request();
        req.messages.retain(|m| m.role != Role::System);
        req.max_tokens = None;
        req.temperature = None;
        let body = request_body(&req).expect("valid");
        assert!(body.get("systemInstruction").is_none());
        assert!(body.get("generationConfig").is_none());
    }

    #[test]
    fn parses_an_answer_skipping_thoughts() {
        let body = json!({
            "candidates": [{
                "content": {"parts": [{"text": "thinking...", "thought": true}, {"text": "Paris"}, {"text": "."}], "role": "model"},
                "finishReason": "STOP", "index": 0
            }],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2, "totalTokenCount": 14},
            "modelVersion": "gemini-2.5-flash-001"
        });
        let answer = parse_response(&body, "gemini-2.5-flash", 1).expect("valid");
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "gemini-2.5-flash-001");
        assert_eq!(answer.finish_reason, "stop");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (12, 2)
        );
    }

    #[test]
    fn maps_finish_reasons_to_the_common_words() {
        assert_eq!(finish_reason(Some("MAX_TOKENS")), "length");
        assert_eq!(finish_reason(Some("SAFETY")), "content_filter");
        assert_eq!(
            finish_reason(Some("MALFORMED_FUNCTION_CALL")),
            "malformed_function_call"
        );
    }

    #[test]
    fn a_blocked_prompt_is_invalid_input() {
        let body = json!({"promptFeedback": {"blockReason": "SAFETY"}});
        let err = parse_response(&body, "m", 1).expect_err("blocked");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("SAFETY"), "{err:?}");
    }

    #[test]
    fn reads_a_stream_emitting_each_piece() {
        let body = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Par\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n\
                    data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"is.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 2,\"totalTokenCount\": 14},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";
        let (answer, pieces) = stream(body);
        let answer = answer.expect("complete");
        assert_eq!(pieces, ["Par", "is."]);
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "gemini-2.5-flash");
        assert_eq!(answer.finish_reason, "stop");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (12, 2)
        );
    }

    #[test]
    fn a_stream_cut_short_is_unavailable() {
        let body =
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Par\"}]}}]}\n\n";
        let (answer, pieces) = stream(body);
        assert_eq!(answer.expect_err("cut").kind(), "unavailable");
        assert_eq!(pieces, ["Par"]);
    }

    #[test]
    fn an_error_in_a_stream_is_typed_by_its_status() {
        let body = "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n";
        assert_eq!(stream(body).0.expect_err("error").kind(), "unavailable");
        let body = "data: {\"error\": {\"code\": 400, \"message\": \"bad\", \"status\": \"INVALID_ARGUMENT\"}}\n\n";
        assert_eq!(stream(body).0.expect_err("error").kind(), "invalid-input");
    }

    #[test]
    fn upstream_errors_carry_geminis_message_and_pick_the_case() {
        let not_found = r#"{"error": {"code": 404, "message": "models/gemini-9 is not found for API version v1beta", "status": "NOT_FOUND"}}"#;
        let err = upstream_error(404, not_found);
        assert_eq!(err.kind(), "invalid-input");
        assert_eq!(
            err.message(),
            "Gemini answered HTTP 404: models/gemini-9 is not found for API version v1beta"
        );
        let exhausted = r#"{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(upstream_error(429, exhausted).kind(), "unavailable");
        assert_eq!(upstream_error(503, "").kind(), "unavailable");
        let wrapped =
            r#"[{"error": {"code": 400, "message": "bad field", "status": "INVALID_ARGUMENT"}}]"#;
        assert_eq!(
            upstream_error(400, wrapped).message(),
            "Gemini answered HTTP 400: bad field"
        );
    }

    #[test]
    fn a_rejected_key_is_denied_even_as_a_400() {
        let body = r#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}"#;
        assert_eq!(upstream_error(400, body).kind(), "denied");
        let forbidden = r#"{"error": {"code": 403, "message": "Method doesn't allow unregistered callers", "status": "PERMISSION_DENIED"}}"#;
        assert_eq!(upstream_error(403, forbidden).kind(), "denied");
    }
}
