//! OpenAI's chat completion on the wire: the schema of the request as
//! `POST /v1/chat/completions` reads it (by hand, field by field, to answer OpenAI's errors
//! naming the parameter; see `Completion::parse`; other OpenAI fields such as `n`, `tools`
//! or `user` are accepted and ignored), and the types of its answers: a `chat.completion`,
//! or a stream of `chat.completion.chunk`s.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::providers::Served;

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

/// A `chat.completion`: the answer to a request without `stream`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// When (Unix seconds).
    pub created: i64,
    /// The model that answered, as its provider names it.
    pub model: String,
    /// The answer (one).
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    pub usage: CompletionUsage,
    /// Always `null`.
    pub system_fingerprint: Option<String>,
    /// Not OpenAI's: `{cached: true}` when the answer came from the response cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<CompletionMetadata>,
}

/// The answer of a [`ChatCompletion`].
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionChoice {
    /// Always 0.
    pub index: u32,
    /// The assistant's message.
    pub message: AssistantMessage,
    /// Always `null`.
    pub logprobs: Option<String>,
    /// `stop`, `length`, `content_filter` or `tool_calls`.
    pub finish_reason: &'static str,
}

/// The message of a [`CompletionChoice`].
#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
    /// Always `null`.
    pub refusal: Option<String>,
}

/// Token counts, as the provider reports them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionUsage {
    /// Tokens of the request.
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    pub completion_tokens: u32,
    /// Both.
    pub total_tokens: u64,
}

impl ChatCompletion {
    /// The completion of what `served` answered.
    pub(super) fn of(served: &Served) -> ChatCompletion {
        ChatCompletion {
            id: super::completion_id(),
            object: "chat.completion",
            created: super::unix_now(),
            model: served.response.model.clone(),
            choices: vec![CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: served.response.text.clone(),
                    refusal: None,
                },
                logprobs: None,
                finish_reason: super::finish_reason(&served.response.finish_reason),
            }],
            usage: CompletionUsage::of(served),
            system_fingerprint: None,
            metadata: None,
        }
    }
}

impl CompletionUsage {
    /// The token counts of what `served` answered.
    pub(super) fn of(served: &Served) -> CompletionUsage {
        let usage = &served.response.usage;
        CompletionUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens),
        }
    }
}

/// The `metadata` of a cached [`ChatCompletion`].
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionMetadata {
    /// Always `true`.
    pub cached: bool,
}

/// A `chat.completion.chunk`: a piece of a streamed answer (`data` of an event).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    /// `chatcmpl-…`, the same for every chunk of a stream.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: &'static str,
    /// When the stream started (Unix seconds).
    pub created: i64,
    /// The model that answers.
    pub model: String,
    /// Always `null`.
    pub system_fingerprint: Option<String>,
    /// The piece (one), or none in the last chunk carrying `usage`.
    pub choices: Vec<ChunkChoice>,
    /// Token counts: only in the last chunk, with `stream_options.include_usage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
}

/// The piece of a [`ChatCompletionChunk`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// What the piece adds.
    pub delta: ChunkDelta,
    /// Always `null`.
    pub logprobs: Option<String>,
    /// Why the answer ended, in its last piece; `null` before.
    pub finish_reason: Option<&'static str>,
}

/// What a [`ChunkChoice`] adds: the role (first piece), text, or nothing (last piece).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChunkDelta {
    /// `assistant`, in the first piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// The text of this piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// An event of a streamed completion (`stream: true`), as OpenAI streams them: unnamed
/// events whose `data` is a [`ChatCompletionChunk`], an error (after the stream started),
/// then `[DONE]`.
pub struct CompletionStreamEvent;

impl utoipa::PartialSchema for CompletionStreamEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        let json = |name: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type("application/json")
                .content_schema(Some(utoipa::openapi::Ref::from_schema_name(name)))
        };
        let event = |data: ObjectBuilder, meaning: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(meaning.to_owned()))
                .property(
                    "event",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["message"])),
                )
                .property("data", data)
                .required("data")
        };
        // `anyOf`: the events differ only by their data's content, which validators
        // that do not read `contentSchema` cannot tell apart.
        AnyOfBuilder::new()
            .description(Some("An event of the stream (unnamed: `message`)"))
            .item(event(json("ChatCompletionChunk"), "A chunk"))
            .item(event(
                json("OpenAiErrorBody"),
                "The provider failed after the stream started",
            ))
            .item(event(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["[DONE]"])),
                "The end",
            ))
            .into()
    }
}

impl ToSchema for CompletionStreamEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        "CompletionStreamEvent".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema as _;
        schemas.push(("ChatCompletionChunk".into(), ChatCompletionChunk::schema()));
        <ChatCompletionChunk as ToSchema>::schemas(schemas);
    }
}

/// `GET /v1/models`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// Every route, and every configured provider's models as `provider/model`.
    pub data: Vec<ModelEntry>,
}

/// A model of [`ModelList`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    /// What to pass as `model`.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// When it became available (Unix seconds).
    pub created: i64,
    /// `sanctuary` for a route, else the provider plugin's id.
    pub owned_by: String,
}
