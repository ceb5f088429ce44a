//! Chat with the AI provider plugins, shared by HTTP (`/api/chat/*`, SSE) and Socket.IO
//! (`mama_bear_chat`): validate the seeds' ChatRequest, find the route's provider
//! ([`crate::providers`]), send it the session's history plus the new message, store both
//! messages, and answer the seeds' ChatResponse with real timing and token figures.
//! [`send`] returns the chat as a [`stream::ChatStream`] of events, as [`stream::answer`]
//! (the same without a session, for `/v1` and jobs) does; each surface maps it.
//!
//! Sessions and messages live in the server's database, reached through
//! [`store::Sessions`]; a chat naming a session that does not exist creates it under that id (once the provider has answered: a failed chat
//! leaves no empty session behind).

pub mod params;
pub mod store;
pub mod stream;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::runtime::CallError;
use crate::runtime::ids::Kind;
use crate::runtime::provider::{ChatRequest, Message, Role};
use crate::{Chats, clock, providers};
use store::{MessageRow, NewMessage, SessionRow};
pub use stream::{ChatEvent, ChatStream, Surface, answer};

/// How many earlier messages of a session are sent to the provider with a new one.
pub const HISTORY_LIMIT: i64 = 50;
/// The `user_id` of chats that name none.
pub const ANONYMOUS: &str = "anonymous";
/// Longest title taken from a first message, in characters.
const TITLE_LEN: usize = 60;
/// Most messages shown for one session.
const MESSAGES_SHOWN: i64 = 10_000;

/// Why a chat or session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: says which field and why.
    #[error("{message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No provider plugin is loaded for the route.
    #[error("no AI provider is loaded to answer the `{route}` route")]
    NoProvider {
        /// The route asked for.
        route: String,
    },
    /// The provider plugin failed the call.
    #[error(transparent)]
    Provider(#[from] CallError),
    /// No session has this id.
    #[error("chat session `{0}` does not exist")]
    UnknownSession(String),
    /// Reading or writing sessions failed.
    #[error("chat storage failed")]
    Storage(#[from] anyhow::Error),
}

impl Error {
    /// The short code every surface shows for it: `invalid_request`, `no_provider`,
    /// `unknown_session`, `storage`, or the provider failure's own (`timeout`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_request",
            Error::NoProvider { .. } => "no_provider",
            Error::Provider(call) => call.code(),
            Error::UnknownSession(_) => "unknown_session",
            Error::Storage(_) => "storage",
        }
    }

    /// The HTTP status it answers with (in a stream: the status it reports): 400 for a bad
    /// request, 503 with no provider, 404 for an unknown session, 500 when storage failed,
    /// and a provider's failure as [`providers::failure_status`] says.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::NoProvider { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Provider(call) => providers::failure_status(call),
            Error::UnknownSession(_) => StatusCode::NOT_FOUND,
            Error::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Result of a chat operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// The seeds' ChatRequest, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatInput {
    /// The message to answer; never empty.
    pub message: String,
    /// Who is chatting.
    pub user_id: Option<String>,
    /// The conversation it belongs to.
    pub session_id: Option<String>,
    /// Extra context for the provider, any JSON.
    pub context: Option<Value>,
    /// `max_tokens`, `temperature` and `top_p`, checked by [`params::sampling`].
    pub sampling: params::Sampling,
}

/// The request body of the chat routes, for the API description.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ChatRequestBody {
    /// The message to answer; must be a non-empty string.
    message: String,
    /// Who is chatting (default `anonymous`, or the session's user).
    user_id: Option<String>,
    /// The conversation; a new id is made when absent, an unknown one is created.
    session_id: Option<String>,
    /// Extra context handed to the provider: free-form JSON.
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
}

impl ChatInput {
    /// Reads a ChatRequest from JSON: `message` must be a non-empty string, `user_id` and
    /// `session_id` strings when present (`null` counts as absent), `context` anything.
    pub fn from_json(value: Value) -> Result<ChatInput> {
        let Value::Object(mut fields) = value else {
            return Err(invalid(
                "message",
                "the request must be a JSON object with a `message` string",
            ));
        };
        let message = match fields.remove("message") {
            None | Some(Value::Null) => return Err(invalid("message", "message is required")),
            Some(Value::String(text)) if text.trim().is_empty() => {
                return Err(invalid("message", "message must not be empty"));
            }
            Some(Value::String(text)) => text,
            Some(other) => {
                return Err(invalid(
                    "message",
                    format!("message must be a string, not {}", json_type(&other)),
                ));
            }
        };
        let param = |e: params::ParamError| invalid(e.field, e.message);
        params::message_text("message", "message", &message).map_err(param)?;
        let sampling = params::sampling(&fields).map_err(param)?;
        Ok(ChatInput {
            message,
            user_id: params::optional_id(&mut fields, "user_id", Kind::User).map_err(param)?,
            session_id: params::optional_id(&mut fields, "session_id", Kind::Session)
                .map_err(param)?,
            context: fields.remove("context").filter(|c| !c.is_null()),
            sampling,
        })
    }
}

/// The name of a JSON value's type, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The seeds' ChatResponse.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatReply {
    /// Always `true` (failures are errors).
    pub success: bool,
    /// The provider's answer.
    pub response: String,
    /// The conversation this turn was stored in.
    pub session_id: String,
    /// Who chatted.
    pub user_id: String,
    /// When the answer was ready (RFC 3339).
    pub timestamp: String,
    /// Figures about the answer.
    pub metadata: ChatMetadata,
}

/// ChatResponse `metadata`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatMetadata {
    /// The model that answered, as the provider says.
    pub model_used: String,
    /// Seconds the provider took.
    pub processing_time: f64,
    /// Prompt plus completion tokens, as the provider counts them.
    pub tokens_used: u64,
    /// Tokens of the request.
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    pub completion_tokens: u32,
    /// Id of the provider plugin.
    pub provider: String,
    /// The chat route (`mama-bear`, `vertex-garden`).
    pub route: String,
    /// Why generation stopped (`stop`, `length`, ...).
    pub finish_reason: String,
    /// Whether the answer came from the response cache (`[cache]`).
    pub cached: bool,
    /// The response-cache key of the request, when the route is cached (for
    /// `POST /api/cache/invalidate {key}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
}

/// A new session id.
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Answers `input` on `route` as `surface` answers (streamed or not, behind the cache or
/// not: [`Surface`]): sends the session's history and the message to the route's
/// provider, and stores both messages once it has answered. The stream ends with the
/// seeds' ChatResponse, or the error.
pub fn send(
    chats: &Chats,
    route: &str,
    input: ChatInput,
    surface: Surface,
) -> ChatStream<Result<ChatReply>> {
    let (chats, route) = (chats.clone(), route.to_string());
    ChatStream::spawn(move |sink| async move { turn(&chats, &route, input, surface, &sink).await })
}

/// One turn of a session: [`send`]'s task.
async fn turn(
    chats: &Chats,
    route: &str,
    input: ChatInput,
    surface: Surface,
    sink: &stream::Sink<Result<ChatReply>>,
) -> Result<ChatReply> {
    // Fail before touching the session when nothing could answer at all.
    let named = providers::named_route(chats, route)?;
    if providers::first_loaded(chats, &named).is_none() {
        return Err(Error::NoProvider {
            route: route.to_string(),
        });
    }
    let received_at = clock::timestamp();
    let session_id = input.session_id.clone().unwrap_or_else(new_session_id);
    // The session is only created once there is an answer to store in it.
    let sessions = &chats.sessions;
    let (owner, history) = match sessions.session(&session_id).await? {
        Some(session) => (
            Some(session.user_id),
            sessions.messages(&session_id, HISTORY_LIMIT).await?,
        ),
        None => (None, Vec::new()),
    };
    let user_id = input
        .user_id
        .clone()
        .or(owner)
        .unwrap_or_else(|| ANONYMOUS.to_string());

    let mut messages: Vec<Message> = history.iter().filter_map(provider_message).collect();
    messages.push(Message {
        role: Role::User,
        content: input.message.clone(),
    });
    let request = ChatRequest {
        model: None,
        messages,
        max_tokens: input.sampling.max_tokens,
        temperature: input.sampling.temperature,
        streaming: surface.streams(),
        context: input.context.as_ref().map(Value::to_string),
    };
    // The cache (as the surface allows), then failover along the route's chain.
    let served = stream::walk(chats, &named, &request, surface, sink).await?;
    let processing_time = served.elapsed.as_secs_f64();
    let answer = served.response;

    let metadata = ChatMetadata {
        model_used: answer.model,
        processing_time,
        tokens_used: u64::from(answer.usage.prompt_tokens)
            + u64::from(answer.usage.completion_tokens),
        prompt_tokens: answer.usage.prompt_tokens,
        completion_tokens: answer.usage.completion_tokens,
        provider: served.provider,
        route: route.to_string(),
        finish_reason: answer.finish_reason,
        cached: served.cached,
        cache_key: served.cache_key,
    };
    let timestamp = clock::timestamp();
    let user_metadata = match &input.context {
        Some(context) => json!({ "context": context }),
        None => json!({}),
    };
    let turn = [
        NewMessage {
            role: "user",
            content: &input.message,
            created_at: received_at,
            metadata: user_metadata,
        },
        NewMessage {
            role: "assistant",
            content: &answer.text,
            created_at: timestamp.clone(),
            metadata: serde_json::to_value(&metadata).unwrap_or_default(),
        },
    ];
    sessions
        .ensure_session(&session_id, &user_id, None, &json!({}))
        .await?;
    sessions
        .append(&session_id, &turn, Some(&title_of(&input.message)))
        .await?;
    Ok(ChatReply {
        success: true,
        response: answer.text,
        session_id,
        user_id,
        timestamp,
        metadata,
    })
}

/// A stored message as the provider sees it; rows of unknown roles are skipped.
fn provider_message(row: &MessageRow) -> Option<Message> {
    let role = match row.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        _ => return None,
    };
    Some(Message {
        role,
        content: row.content.clone(),
    })
}

/// A session's title from its first message: the first line, at most [`TITLE_LEN`]
/// characters.
fn title_of(message: &str) -> String {
    let line = message.trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() <= TITLE_LEN {
        line.to_string()
    } else {
        let cut: String = line.chars().take(TITLE_LEN - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// The same id under the name chat requests use.
    pub session_id: String,
    /// Who the session belongs to.
    pub user_id: String,
    /// Its title (`null` until given or taken from the first message).
    pub title: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// How many messages it holds.
    pub message_count: i64,
    /// When its last message was written (`null` when it has none).
    pub last_message_at: Option<String>,
    /// The creator's metadata (free-form), plus `message_count`, `last_message_at` and
    /// `title`.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl From<SessionRow> for SessionView {
    fn from(row: SessionRow) -> SessionView {
        let mut metadata = match row.metadata {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("value".to_string(), other)]),
        };
        metadata.insert("message_count".into(), json!(row.message_count));
        metadata.insert("last_message_at".into(), json!(row.last_message_at));
        metadata.insert("title".into(), json!(row.title));
        SessionView {
            session_id: row.id.clone(),
            id: row.id,
            user_id: row.user_id,
            title: row.title,
            created_at: row.created_at,
            updated_at: row.updated_at,
            message_count: row.message_count,
            last_message_at: row.last_message_at,
            metadata: Value::Object(metadata),
        }
    }
}

/// A stored message as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// Message id.
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
    /// When it was written.
    pub created_at: String,
    /// For answers: model, tokens, timing, provider (free-form: as the answer's
    /// ChatResponse `metadata`, or the client's own for its messages).
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl From<MessageRow> for MessageView {
    fn from(row: MessageRow) -> MessageView {
        MessageView {
            id: row.id,
            session_id: row.session_id,
            role: row.role,
            content: row.content,
            created_at: row.created_at,
            metadata: row.metadata,
        }
    }
}

/// A session with its messages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionDetail {
    /// The session.
    #[serde(flatten)]
    pub session: SessionView,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
}

/// `POST /api/chat/sessions` body: `{user_id?, title?, metadata?}`; other fields are kept
/// in the metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSession {
    /// Owner.
    pub user_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Anything else the creator wants kept.
    pub metadata: Map<String, Value>,
}

/// The documented body of `POST /api/chat/sessions`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct NewSessionBody {
    /// Owner (default `anonymous`).
    user_id: Option<String>,
    /// Title (default: taken from the first message).
    title: Option<String>,
    /// Kept as the session's metadata (free-form), with any other fields of the body.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
}

impl NewSession {
    /// Reads the body (absent or `null` means all defaults).
    pub fn from_json(value: Option<Value>) -> Result<NewSession> {
        let mut fields = match value {
            None | Some(Value::Null) => return Ok(NewSession::default()),
            Some(Value::Object(fields)) => fields,
            Some(other) => {
                return Err(invalid(
                    "body",
                    format!("the body must be a JSON object, not {}", json_type(&other)),
                ));
            }
        };
        let user_id = params::optional_id(&mut fields, "user_id", Kind::User)
            .map_err(|e| invalid(e.field, e.message))?;
        let title = match fields.remove("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(title)) => Some(title),
            Some(other) => {
                return Err(invalid(
                    "title",
                    format!("title must be a string, not {}", json_type(&other)),
                ));
            }
        };
        let mut metadata = match fields.remove("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(invalid(
                    "metadata",
                    format!("metadata must be an object, not {}", json_type(&other)),
                ));
            }
        };
        // The seeds post free-form session data: keep what has no field of its own.
        for (key, value) in fields {
            metadata.entry(key).or_insert(value);
        }
        Ok(NewSession {
            user_id,
            title,
            metadata,
        })
    }
}

/// Creates a session.
pub async fn create_session(chats: &Chats, new: NewSession) -> Result<SessionView> {
    let metadata = Value::Object(new.metadata);
    let row = chats
        .sessions
        .ensure_session(
            &new_session_id(),
            new.user_id.as_deref().unwrap_or(ANONYMOUS),
            new.title.as_deref(),
            &metadata,
        )
        .await?;
    Ok(row.into())
}

/// The most recently updated sessions, at most `limit`, optionally of one user.
pub async fn sessions(
    chats: &Chats,
    user_id: Option<&str>,
    limit: i64,
) -> Result<Vec<SessionView>> {
    let rows = chats.sessions.sessions(user_id, limit).await?;
    Ok(rows.into_iter().map(SessionView::from).collect())
}

/// Session `id` with its messages.
pub async fn session_detail(chats: &Chats, id: &str) -> Result<SessionDetail> {
    let row = chats
        .sessions
        .session(id)
        .await?
        .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
    let messages = chats.sessions.messages(id, MESSAGES_SHOWN).await?;
    Ok(SessionDetail {
        session: row.into(),
        messages: messages.into_iter().map(MessageView::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> &'static str {
        match err {
            Error::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn a_chat_request_needs_a_non_empty_string_message() {
        for (body, field) in [
            (json!({}), "message"),
            (json!({"message": null}), "message"),
            (json!({"message": ""}), "message"),
            (json!({"message": "  \n"}), "message"),
            (json!({"message": 42}), "message"),
            (json!(["message"]), "message"),
            (json!({"message": "hi", "session_id": 7}), "session_id"),
            (json!({"message": "hi", "user_id": ""}), "user_id"),
            (
                json!({"message": "hi", "user_id": "x".repeat(201)}),
                "user_id",
            ),
        ] {
            let err = ChatInput::from_json(body.clone()).expect_err("refused");
            assert_eq!(field_of(err), field, "{body}");
        }
    }

    #[test]
    fn a_valid_chat_request_keeps_every_field() {
        let input = ChatInput::from_json(json!({
            "message": "Hello",
            "user_id": "nathan",
            "session_id": "s-1",
            "context": {"page": "home"},
            "timestamp": "ignored",
        }))
        .expect("valid");
        assert_eq!(
            input,
            ChatInput {
                message: "Hello".into(),
                user_id: Some("nathan".into()),
                session_id: Some("s-1".into()),
                context: Some(json!({"page": "home"})),
                sampling: params::Sampling::default(),
            }
        );
        let minimal = ChatInput::from_json(json!({"message": "x", "context": null})).expect("ok");
        assert_eq!(minimal.user_id, None);
        assert_eq!(minimal.context, None);
    }

    #[test]
    fn the_wrong_type_is_named_in_the_message() {
        let err = ChatInput::from_json(json!({"message": [1]})).expect_err("refused");
        assert_eq!(err.to_string(), "message must be a string, not an array");
    }

    #[test]
    fn titles_are_the_first_line_cut_to_sixty_characters() {
        assert_eq!(title_of("  Hello there\nsecond line"), "Hello there");
        let long = "é".repeat(100);
        let title = title_of(&long);
        assert_eq!(title.chars().count(), TITLE_LEN);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn a_new_session_body_keeps_unknown_fields_as_metadata() {
        let new = NewSession::from_json(Some(json!({
            "user_id": "nathan",
            "title": "Plans",
            "metadata": {"a": 1},
            "project": "web",
        })))
        .expect("valid");
        assert_eq!(new.user_id.as_deref(), Some("nathan"));
        assert_eq!(new.title.as_deref(), Some("Plans"));
        assert_eq!(
            Value::Object(new.metadata),
            json!({"a": 1, "project": "web"})
        );
        assert_eq!(
            NewSession::from_json(None).expect("empty"),
            NewSession::default()
        );
        for bad in [json!([]), json!({"title": 1}), json!({"metadata": "x"})] {
            assert!(NewSession::from_json(Some(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_session_view_carries_its_figures_in_the_metadata_too() {
        let view = SessionView::from(SessionRow {
            id: "s".into(),
            user_id: "u".into(),
            title: Some("T".into()),
            created_at: "c".into(),
            updated_at: "u".into(),
            metadata: json!({"project": "web"}),
            message_count: 4,
            last_message_at: Some("l".into()),
        });
        let body = serde_json::to_value(&view).expect("json");
        assert_eq!(body["session_id"], "s");
        assert_eq!(body["message_count"], 4);
        assert_eq!(body["metadata"]["message_count"], 4);
        assert_eq!(body["metadata"]["last_message_at"], "l");
        assert_eq!(body["metadata"]["title"], "T");
        assert_eq!(body["metadata"]["project"], "web");
    }
}
