//! OpenAI's Chat Completions wire format: the request body, the answer in one piece
//! (`choices[0].message.content`), the answer as server-sent events
//! (`choices[0].delta.content` … `[DONE]`), and error bodies (`{error: {message, type}}`,
//! plus the shapes of common compatible servers).

use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::http::{self, sse};
use sanctuary_plugin_api::provider::{ChatRequest, ChatResponse, Usage, estimate_tokens};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest vendor explanation kept in an error message.
const MAX_MESSAGE_CHARS: usize = 500;

/// The JSON body of a chat call for `model`.
pub(crate) fn request_body(
    request: &ChatRequest,
    model: &str,
    stream_usage: bool,
) -> Result<Value, PluginError> {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect();
    let mut body = json!({ "model": model, "messages": messages, "stream": request.streaming });
    if let Some(max_tokens) = request.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(sanctuary_plugin_api::provider::temperature_value(
            temperature,
            2.0
        )?);
    }
    if request.streaming && stream_usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    Ok(body)
}

/// A completion, or one chunk of a streamed one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<TokenCounts>,
    /// Groq reports a stream's usage here.
    x_groq: Option<GroqExtra>,
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Choice {
    message: Option<Content>,
    delta: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Content {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GroqExtra {
    usage: Option<TokenCounts>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
struct TokenCounts {
    prompt_tokens: u32,
    completion_tokens: u32,
}

impl Completion {
    fn usage(&self) -> Option<TokenCounts> {
        self.usage
            .or_else(|| self.x_groq.as_ref().and_then(|x| x.usage))
    }

    fn reported_model(&self) -> Option<String> {
        self.model.clone().filter(|m| !m.is_empty())
    }
}

/// The answer of a call that was not streamed. `model` and `prompt_tokens` stand in for
/// what the server does not report.
pub(crate) fn parse_completion(
    body: &Value,
    model: &str,
    prompt_tokens: u32,
) -> Result<ChatResponse, PluginError> {
    let completion = Completion::deserialize(body).map_err(|err| {
        PluginError::failed(format!("unexpected chat completion from the server: {err}"))
    })?;
    if let Some(error) = &completion.error {
        return Err(error_in_body(error));
    }
    let choice = completion
        .choices
        .first()
        .ok_or_else(|| PluginError::failed("the server's completion has no choices"))?;
    let message = choice.message.as_ref();
    let text = message
        .and_then(|m| m.content.clone().or_else(|| m.refusal.clone()))
        .unwrap_or_default();
    let usage = completion.usage();
    Ok(ChatResponse {
        usage: usage_or_estimate(usage, prompt_tokens, &text),
        model: completion
            .reported_model()
            .unwrap_or_else(|| model.to_string()),
        finish_reason: choice
            .finish_reason
            .clone()
            .unwrap_or_else(|| "stop".into()),
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
    let mut usage = None;
    let mut finish_reason = None;
    let mut done = false;
    for event in events {
        let event = event?;
        let data = event.data.trim();
        if data == "[DONE]" {
            done = true;
            break;
        }
        if data.is_empty() {
            continue;
        }
        let chunk: Completion = event.json()?;
        if let Some(error) = &chunk.error {
            return Err(error_in_body(error));
        }
        reported_model = reported_model.or_else(|| chunk.reported_model());
        usage = chunk.usage().or(usage);
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(piece) = choice.delta.and_then(|d| d.content.or(d.refusal))
                && !piece.is_empty()
            {
                emit(&piece);
                text.push_str(&piece);
            }
            finish_reason = choice.finish_reason.or(finish_reason);
        }
    }
    if !done && finish_reason.is_none() {
        return Err(PluginError::unavailable(
            "the server's stream ended before the answer was complete",
        ));
    }
    Ok(ChatResponse {
        usage: usage_or_estimate(usage, prompt_tokens, &text),
        model: reported_model.unwrap_or_else(|| model.to_string()),
        finish_reason: finish_reason.unwrap_or_else(|| "stop".into()),
        text,
    })
}

fn usage_or_estimate(counts: Option<TokenCounts>, prompt_tokens: u32, text: &str) -> Usage {
    match counts {
        Some(c) => Usage {
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
        },
        None => Usage {
            prompt_tokens,
            completion_tokens: estimate_tokens(text),
        },
    }
}

/// The error for an error status `status` with body `body`. `missing_key` names the
/// secret that was not set, if no key was sent: a 401 then says so.
pub(crate) fn upstream_error(status: u16, body: &str, missing_key: Option<&str>) -> PluginError {
    let mut message = format!("the server answered HTTP {status}: {}", error_message(body));
    if let (401 | 403, Some(secret)) = (status, missing_key) {
        message.push_str(&format!(
            " (no API key was sent: the secret `{secret}` is not set)"
        ));
    }
    http::status_error(status, message)
}

/// The vendor's explanation in an error body: OpenAI's `{error: {message}}`, vLLM's
/// `{message}`, FastAPI's `{detail}`, `{error: "..."}`, or the text itself.
pub(crate) fn error_message(body: &str) -> String {
    let found = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        [
            v.pointer("/error/message"),
            v.get("error"),
            v.get("message"),
            v.get("detail"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| match m {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Array(_) => Some(m.to_string()),
            _ => None,
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

/// The error for an `error` object inside a 200 answer or a stream, by its `type`.
fn error_in_body(error: &Value) -> PluginError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("unknown error");
    let message = format!("the server reported an error: {}", shorten(message));
    match error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "invalid_request_error" => PluginError::invalid_input(message),
        "authentication_error" | "permission_error" => PluginError::denied(message),
        _ => PluginError::unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::http::Lines;
    use sanctuary_plugin_api::provider::Message;
    use sanctuary_plugin_api::provider::Role;

    fn request(streaming: bool) -> ChatRequest {
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
    fn builds_the_chat_completions_body() {
        let body = request_body(&request(false), "gpt-4o-mini", true).expect("valid");
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Capital of France?"}
                ],
                "max_tokens": 64,
                "temperature": 0.7,
                "stream": false
            })
        );
    }

    #[test]
    fn a_streamed_call_asks_for_usage_unless_told_not_to() {
        let body = request_body(&request(true), "m", true).expect("valid");
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        let body = request_body(&request(true), "m", false).expect("valid");
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn leaves_out_what_the_caller_did_not_set() {
        let mut req = request(false);
        req.max_tokens = None;
        req.temperature = None;
        let body = request_body(&req, "m", true).expect("valid");
        assert!(body.get("max_tokens").is_none() && body.get("temperature").is_none());
    }

    #[test]
    fn refuses_a_temperature_that_is_not_a_number() {
        let mut req = request(false);
        req.temperature = Some(f32::NAN);
        assert_eq!(
            request_body(&req, "m", true).expect_err("NaN").kind(),
            "invalid-input"
        );
    }

    #[test]
    fn parses_a_completion_with_what_the_server_reports() {
        let body = json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23}
        });
        let answer = parse_completion(&body, "gpt-4o-mini", 5).expect("valid");
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
        assert_eq!(answer.finish_reason, "stop");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (21, 2)
        );
    }

    #[test]
    fn estimates_usage_and_keeps_the_asked_model_when_the_server_is_silent() {
        let body = json!({"choices": [{"message": {"content": "one two three"}, "finish_reason": "length"}]});
        let answer = parse_completion(&body, "llama3.2", 5).expect("valid");
        assert_eq!(answer.model, "llama3.2");
        assert_eq!(answer.finish_reason, "length");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (5, 4)
        );
    }

    #[test]
    fn a_completion_without_choices_is_a_failure() {
        let err = parse_completion(&json!({"choices": []}), "m", 1).expect_err("empty");
        assert_eq!(err.kind(), "failed");
    }

    #[test]
    fn reads_a_stream_emitting_each_piece() {
        let body = "data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n\
                    data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"},\"finish_reason\":null}],\"usage\":null}\n\n\
                    : keep-alive\n\n\
                    data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"is.\"},\"finish_reason\":null}],\"usage\":null}\n\n\
                    data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
                    data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":2}}\n\n\
                    data: [DONE]\n\n";
        let (answer, pieces) = stream(body);
        let answer = answer.expect("complete stream");
        assert_eq!(pieces, ["Par", "is."]);
        assert_eq!(answer.text, "Paris.");
        assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
        assert_eq!(answer.finish_reason, "stop");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (21, 2)
        );
    }

    #[test]
    fn a_stream_without_usage_gets_an_estimate() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"a b c\"}}]}\n\ndata: [DONE]\n\n";
        let answer = stream(body).0.expect("complete");
        assert_eq!(answer.model, "asked-model");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (9, 4)
        );
    }

    #[test]
    fn takes_groq_usage_from_its_extra_field() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"x_groq\":{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}}\n\ndata: [DONE]\n";
        let answer = stream(body).0.expect("complete");
        assert_eq!(
            (answer.usage.prompt_tokens, answer.usage.completion_tokens),
            (3, 1)
        );
    }

    #[test]
    fn a_stream_cut_short_is_unavailable() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"Par\"}}]}\n\n";
        let (answer, pieces) = stream(body);
        assert_eq!(answer.expect_err("cut").kind(), "unavailable");
        assert_eq!(pieces, ["Par"]);
    }

    #[test]
    fn an_error_inside_a_stream_is_typed_by_its_type() {
        let body = "data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n";
        let err = stream(body).0.expect_err("error event");
        assert_eq!(err.kind(), "unavailable");
        assert!(err.message().contains("overloaded"), "{err:?}");
        let body = "data: {\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"}}\n\n";
        assert_eq!(stream(body).0.expect_err("error").kind(), "invalid-input");
    }

    #[test]
    fn garbage_in_a_stream_is_a_failure() {
        assert_eq!(
            stream("data: {not json\n\n").0.expect_err("garbage").kind(),
            "failed"
        );
    }

    #[test]
    fn upstream_errors_carry_the_vendors_message_and_pick_the_case() {
        let openai = r#"{"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        let err = upstream_error(404, openai, None);
        assert_eq!(err.kind(), "invalid-input");
        assert_eq!(
            err.message(),
            "the server answered HTTP 404: The model `gpt-9` does not exist"
        );
        assert_eq!(upstream_error(401, openai, None).kind(), "denied");
        assert_eq!(upstream_error(429, "{}", None).kind(), "unavailable");
        assert_eq!(upstream_error(503, "", None).kind(), "unavailable");
        assert_eq!(upstream_error(422, "{}", None).kind(), "invalid-input");
    }

    #[test]
    fn a_401_without_a_key_names_the_secret() {
        let err = upstream_error(401, "{}", Some("GROQ_API_KEY"));
        assert!(
            err.message().contains("`GROQ_API_KEY` is not set"),
            "{err:?}"
        );
    }

    #[test]
    fn reads_the_error_shapes_of_compatible_servers() {
        assert_eq!(
            error_message(
                r#"{"object":"error","message":"vLLM says no","type":"BadRequestError","code":400}"#
            ),
            "vLLM says no"
        );
        assert_eq!(
            error_message(r#"{"error":"model \"x\" not found, try pulling it first"}"#),
            "model \"x\" not found, try pulling it first"
        );
        assert_eq!(error_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message("Bad Gateway\n"), "Bad Gateway");
        assert_eq!(error_message(""), "no explanation given");
        assert_eq!(
            error_message(&"x".repeat(2000)).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }
}
