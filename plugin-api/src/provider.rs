//! Everything an `ai-provider` plugin needs: the [`AiProvider`] trait to implement, the
//! chat records, streaming through [`emit_chunk`], and small helpers for checking a
//! request and estimating token counts. Export the implementation with
//! `sanctuary_plugin_api::export!(provider: MyProvider);`.

use crate::__private::ai_provider::exports::sanctuary::plugin::provider as raw;
pub use crate::PluginError;
pub use raw::{ChatRequest, ChatResponse, Message, ProviderInfo, Role, Usage};

/// The raw `progress` interface (world `ai-provider` only); [`emit_chunk`] wraps it.
pub use crate::__private::ai_provider::sanctuary::plugin::progress;

/// An `ai-provider` plugin: a chat model behind the host's routes and failover. Export the
/// implementing type with `sanctuary_plugin_api::export!(provider: MyProvider);`; the
/// [crate docs](crate#an-ai-provider) have an example.
pub trait AiProvider {
    /// The provider's name, its models and whether it works offline.
    fn describe() -> ProviderInfo;

    /// Answers a conversation. When `request.streaming` is set, send the answer's pieces
    /// with [`emit_chunk`] as they come; the returned [`ChatResponse`] still carries the
    /// whole text.
    fn chat(request: ChatRequest) -> Result<ChatResponse, PluginError>;
}

impl<T: AiProvider> raw::Guest for T {
    fn describe() -> ProviderInfo {
        <T as AiProvider>::describe()
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, PluginError> {
        <T as AiProvider>::chat(request)
    }
}

/// Sends one piece of the answer to the caller while it is produced. Does nothing when
/// the caller did not ask for streaming; the final [`ChatResponse`] must still carry the
/// whole text.
pub fn emit_chunk(text: &str) {
    progress::emit_chunk(text);
}

/// The message to answer: the last one of the conversation. An empty conversation, or a
/// last message with no text, is an `invalid-input` error.
///
/// ```
/// use sanctuary_plugin_api::provider::{last_message, ChatRequest, Message, Role};
///
/// let mut request = ChatRequest {
///     model: None,
///     messages: vec![Message { role: Role::User, content: "hello".into() }],
///     max_tokens: None,
///     temperature: None,
///     streaming: false,
///     context: None,
/// };
/// assert_eq!(last_message(&request)?.content, "hello");
///
/// request.messages.clear();
/// assert_eq!(last_message(&request).err().map(|e| e.kind()), Some("invalid-input"));
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn last_message(request: &ChatRequest) -> Result<&Message, PluginError> {
    let last = request
        .messages
        .last()
        .ok_or_else(|| PluginError::invalid_input("the conversation has no messages"))?;
    if last.content.trim().is_empty() {
        return Err(PluginError::invalid_input(
            "the last message has no content",
        ));
    }
    Ok(last)
}

/// A rough token count for `text` when no tokenizer is at hand: about four tokens for
/// every three words, and never less than one.
///
/// ```
/// use sanctuary_plugin_api::provider::estimate_tokens;
///
/// assert_eq!(estimate_tokens("one two three"), 4);
/// assert_eq!(estimate_tokens(""), 1);
/// ```
pub fn estimate_tokens(text: &str) -> u32 {
    let words = text.split_whitespace().count() as u64;
    u32::try_from(words * 4 / 3).unwrap_or(u32::MAX).max(1)
}

/// A rough token count of a whole conversation ([`estimate_tokens`] summed), for
/// upstreams that report none.
pub fn estimate_prompt(messages: &[Message]) -> u32 {
    messages
        .iter()
        .map(|m| estimate_tokens(&m.content))
        .fold(0u32, u32::saturating_add)
}

/// The model to ask for: the request's (trimmed, when not empty), or `default`.
pub fn requested_model(request: &ChatRequest, default: &str) -> String {
    request
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or(default)
        .to_string()
}

/// The models to advertise in `describe`: `models`, with `default` first when it is not
/// among them.
///
/// ```
/// use sanctuary_plugin_api::provider::advertised_models;
///
/// assert_eq!(advertised_models(&["b".into()], "a"), ["a", "b"]);
/// assert_eq!(advertised_models(&["a".into(), "b".into()], "b"), ["a", "b"]);
/// ```
pub fn advertised_models(models: &[String], default: &str) -> Vec<String> {
    let mut out = models.to_vec();
    if !out.iter().any(|m| m == default) {
        out.insert(0, default.to_string());
    }
    out
}

/// `temperature` as the decimal the caller meant (`0.7`, not `0.699999988079071`); a
/// negative or non-finite value is an `invalid-input` error that names `max`, the top of
/// the upstream's range.
///
/// ```
/// use sanctuary_plugin_api::provider::temperature_value;
///
/// assert_eq!(temperature_value(0.7, 2.0)?, 0.7);
/// assert!(temperature_value(-1.0, 2.0).is_err());
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn temperature_value(temperature: f32, max: f32) -> Result<f64, PluginError> {
    if !temperature.is_finite() || temperature < 0.0 {
        return Err(PluginError::invalid_input(format!(
            "temperature must be a number from 0 to {max}, not {temperature}"
        )));
    }
    Ok(temperature
        .to_string()
        .parse()
        .unwrap_or(f64::from(temperature)))
}

/// How to read one upstream's answers, for [`exchange`].
pub struct Upstream<E, P, S> {
    /// Turns a non-success status and its body into the right typed error.
    pub error: E,
    /// Parses a whole (non-streamed) JSON answer.
    pub parse: P,
    /// Reads a server-sent-event stream, calling the emitter with each piece of text.
    pub stream: S,
}

/// Sends `outgoing` (URL, auth headers and JSON body already set) and reads the answer
/// whichever way it comes: an error status through `upstream.error`; a whole JSON answer
/// (also when a server ignores a streaming request) through `upstream.parse`, emitted as
/// one chunk when the caller wanted streaming; an event stream through `upstream.stream`,
/// each piece emitted as it arrives. `timeout_ms` of 0 leaves the limit to the host.
pub fn exchange<E, P, S>(
    outgoing: crate::http::Request,
    request: &ChatRequest,
    timeout_ms: u64,
    upstream: Upstream<E, P, S>,
) -> Result<ChatResponse, PluginError>
where
    E: FnOnce(u16, &str) -> PluginError,
    P: FnOnce(&serde_json::Value) -> Result<ChatResponse, PluginError>,
    S: FnOnce(
        crate::http::sse::Events<crate::http::Lines>,
        &mut dyn FnMut(&str),
    ) -> Result<ChatResponse, PluginError>,
{
    let accept = if request.streaming {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut outgoing = outgoing.header("accept", accept);
    if timeout_ms > 0 {
        outgoing = outgoing.timeout(std::time::Duration::from_millis(timeout_ms));
    }
    let response = outgoing.send_streaming()?;
    let streamed = response
        .header("content-type")
        .is_some_and(|t| t.contains("text/event-stream"));
    if !response.is_success() || !streamed {
        let response = response.into_response()?;
        if !response.is_success() {
            return Err((upstream.error)(response.status, &response.text()));
        }
        let answer = (upstream.parse)(&response.json()?)?;
        if request.streaming && !answer.text.is_empty() {
            emit_chunk(&answer.text);
        }
        return Ok(answer);
    }
    (upstream.stream)(response.events(), &mut |piece| emit_chunk(piece))
}

impl Role {
    /// The WIT name: `system`, `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

impl Message {
    /// A message from `role` with `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: None,
            messages,
            max_tokens: None,
            temperature: None,
            streaming: false,
            context: None,
        }
    }

    #[test]
    fn answers_the_last_message() {
        let req = request(vec![
            Message::new(Role::User, "first"),
            Message::new(Role::User, "second"),
        ]);
        assert_eq!(last_message(&req).map(|m| m.content.as_str()), Ok("second"));
    }

    #[test]
    fn refuses_an_empty_conversation() {
        let err = last_message(&request(Vec::new())).expect_err("no messages");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn refuses_a_blank_last_message() {
        let err = last_message(&request(vec![Message::new(Role::User, "  ")])).expect_err("blank");
        assert_eq!(
            err,
            PluginError::invalid_input("the last message has no content")
        );
    }

    #[test]
    fn estimates_four_tokens_per_three_words() {
        assert_eq!(estimate_tokens("a b c d e f"), 8);
        assert_eq!(estimate_tokens("word"), 1);
        assert_eq!(estimate_tokens("   "), 1);
    }
}
