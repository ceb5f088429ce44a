//! Everything an `ai-provider` plugin needs: the [`Guest`] trait to implement, the chat
//! records, streaming through [`emit_chunk`], and small helpers for checking a request
//! and estimating token counts. Export the implementation with
//! [`crate::export_ai_provider!`].

pub use crate::PluginError;
pub use crate::ai_provider::exports::sanctuary::plugin::provider::{
    ChatRequest, ChatResponse, Guest, Message, ProviderInfo, Role, Usage,
};

/// The raw `progress` interface (world `ai-provider` only); [`emit_chunk`] wraps it.
pub use crate::ai_provider::sanctuary::plugin::progress;

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
