//! The schema of OpenAI's chat completion request as `POST /v1/chat/completions` reads it
//! (by hand, field by field, to answer OpenAI's errors naming the parameter; see
//! `Completion::parse`). Other OpenAI fields (`n`, `tools`, `user`, ...) are accepted and
//! ignored.

use serde::Deserialize;
use utoipa::ToSchema;

/// OpenAI's chat completion request.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub struct CompletionRequest {
    /// A chat route's name (e.g. `mama-bear`, see `GET /v1/models`), `provider/model`, a
    /// provider id, or a model a loaded provider offers.
    #[schema(min_length = 1, pattern = r"\S", example = "mama-bear")]
    model: String,
    /// The conversation, oldest first (1 to 1000 messages).
    #[schema(min_items = 1, max_items = 1000)]
    messages: Vec<CompletionMessage>,
    /// Answer as server-sent `chat.completion.chunk` events ending in `[DONE]`.
    stream: Option<bool>,
    /// Options of a stream.
    stream_options: Option<StreamOptions>,
    /// Longest answer, in tokens (1 to 1,000,000).
    #[schema(minimum = 1, maximum = 1_000_000)]
    max_tokens: Option<u32>,
    /// OpenAI's newer name for `max_tokens` (wins when both are given).
    #[schema(minimum = 1, maximum = 1_000_000)]
    max_completion_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f64>,
    /// Nucleus sampling, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    top_p: Option<f64>,
}

/// `stream_options` of a [`CompletionRequest`].
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub struct StreamOptions {
    /// End the stream with a chunk carrying the token `usage`.
    include_usage: Option<bool>,
}

/// One message of a [`CompletionRequest`].
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub struct CompletionMessage {
    /// Who speaks.
    role: CompletionRole,
    /// The text (at most 1 MiB): a string, or an array of text parts; `null` or absent
    /// only for an assistant turn.
    content: Option<CompletionContent>,
}

/// The `role` of a [`CompletionMessage`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub enum CompletionRole {
    /// Instructions.
    System,
    /// Instructions (OpenAI's newer name for `system`).
    Developer,
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// The `content` of a [`CompletionMessage`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub enum CompletionContent {
    /// The text.
    #[schema(title = "text")]
    Text(String),
    /// Text parts, joined.
    #[schema(title = "parts")]
    Parts(Vec<TextPart>),
}

/// A text part of a [`CompletionMessage`]'s content.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "the schema of the body `Completion::parse` reads")]
pub struct TextPart {
    /// Always `text` (other parts are refused).
    #[serde(rename = "type")]
    #[schema(pattern = "^text$")]
    kind: String,
    /// The text.
    text: String,
}
