//! `chat.send_message`, `chat.stream` and `chat.get_history`: the chat routes
//! ([`crate::chat`]) under Frappe's conventions. The chat route is the `route` argument
//! (default `mama-bear`); the conversation is `session_id` (or `conversation_id`); the
//! chatting user is the caller.
//!
//! `chat.stream` is a GET a browser `EventSource` can open: each piece of the answer is an
//! unnamed event (so `onmessage` sees it) carrying the same `{session_id, chunk, index}` as
//! Socket.IO's `ai_progress`; then `event: done` with the whole answer, or `event: error`
//! `{exc_type, message}`. The client closes the `EventSource` on either.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use super::{Answer, Args, Caller, answer};
use crate::api::chat::chat_error;
use crate::chat::{self, ChatEvent, ChatInput, ChatStream};
use crate::error::{ApiError, ApiResult};
use crate::providers::{self, MAMA_BEAR};
use crate::state::AppState;

/// The chat input of a method's arguments, and the route it goes to.
async fn input_of(
    state: &AppState,
    caller: &Caller,
    args: &Args,
) -> ApiResult<(String, ChatInput)> {
    let route = args.text("route")?.unwrap_or_else(|| MAMA_BEAR.to_owned());
    if state.chat.providers.route(&route).is_none() {
        return Err(
            ApiError::not_found(format!("No chat route is named {route}"))
                .with_details(json!({ "field": "route" })),
        );
    }
    let session = match args.text("session_id")? {
        Some(id) => Some(id),
        None => args.text("conversation_id")?,
    };
    let mut body = json!({
        "message": args.0.get("message").cloned().unwrap_or(Value::Null),
        "user_id": caller.name,
        "session_id": session,
    });
    if let Some(context) = args.json("context")? {
        body["context"] = context;
    }
    let input = ChatInput::from_json(body).map_err(chat_error)?;
    Ok((route, input))
}

/// The arguments of `chat.send_message` and `chat.stream` (a JSON object or a
/// form-encoded body; the query string's arguments count too).
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "the schema of the arguments `input_of` reads from `Args`"
)]
pub struct ChatArgs {
    /// What to say (required).
    pub message: String,
    /// The chat route (default `mama-bear`).
    pub route: Option<String>,
    /// The conversation to continue; a new one when absent.
    pub session_id: Option<String>,
    /// Another name for `session_id`.
    pub conversation_id: Option<String>,
    /// Extra context handed to the provider: free-form JSON (an object, or a string
    /// holding JSON).
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// `chat.send_message {message, route?, session_id?, context?}`: the answer
/// (the seeds' ChatResponse, plus `conversation_id`).
#[utoipa::path(
    post, path = "/api/method/oropendola.chat.send_message", tag = "oropendola",
    summary = "Chat on a route",
    description = "Chat on a route (`message`, `route?` = mama-bear, `session_id?`, `context?`; JSON or form): the ChatResponse under `message`",
    request_body(content = ChatArgs, description = "`{message, route?, session_id?, context?}` as JSON (or form-encoded)"),
    responses(
        (status = 200, description = "`{message: ChatResponse + conversation_id + route}`", body = Answer<SentMessage>),
        (status = 400, description = "A missing or empty `message` (Frappe `ValidationError`)", body = crate::api::openapi::FrappeErrorBody),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 404, description = "No chat route of that name", body = crate::api::openapi::FrappeErrorBody),
        (status = 429, description = "The plan's chat calls a day are used up", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<SentMessage>>> {
    let (route, input) = input_of(&state, &caller, &args).await?;
    let reply = chat::send(&state.chat, &route, input, chat::Surface::Json)
        .outcome()
        .await
        .map_err(chat_error)?;
    Ok(answer(SentMessage {
        conversation_id: reply.session_id.clone(),
        route,
        reply,
    }))
}

/// `chat.stream?message=…&route=…&session_id=…`: the answer as server-sent events.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.chat.stream", tag = "oropendola",
    summary = "Chat streamed as server-sent events for a browser EventSource",
    description = "Chat streamed as server-sent events for a browser `EventSource` (`?message=&route=&session_id=`): unnamed `{session_id, chunk, index}` events, then `done` or `error`",
    params(
        ("message" = Option<String>, Query, description = "What to say (required, here or in the body)"),
        ("route" = Option<String>, Query, description = "The chat route (default mama-bear)"),
        ("session_id" = Option<String>, Query, description = "The conversation to continue"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: unnamed `{session_id, chunk, index}` events, then `done` `{message: ChatResponse}` or `error` (Frappe's error body)", body = ChatStreamEvent, content_type = "text/event-stream"),
        (status = 400, description = "A missing or empty `message`", body = crate::api::openapi::FrappeErrorBody),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 404, description = "No chat route of that name", body = crate::api::openapi::FrappeErrorBody),
        (status = 503, description = "No AI provider of the route is loaded", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<Response> {
    let (route, mut input) = input_of(&state, &caller, &args).await?;
    if providers::provider_for_route(&state.chat, &route).is_none() {
        return Err(chat_error(chat::Error::NoProvider { route }));
    }
    let session_id = input
        .session_id
        .get_or_insert_with(chat::new_session_id)
        .clone();
    // On its own task: a client that goes away does not cut the provider off, and the
    // turn is still stored.
    let chat = chat::send(&state.chat, &route, input, chat::Surface::Sse);
    Ok(Sse::new(events(chat, session_id))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The SSE events of a chat: an unnamed `{session_id, chunk, index}` per piece, then
/// `done` `{message: ChatResponse}` or `error` (Frappe's error body).
fn events(
    chat: ChatStream<chat::Result<chat::ChatReply>>,
    session_id: String,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut index = 0_u64;
    chat.filter_map(move |event| {
        let event = match event {
            ChatEvent::Serving { .. } => None,
            ChatEvent::Chunk(chunk) => {
                let piece = StreamPiece {
                    session_id: session_id.clone(),
                    chunk,
                    index,
                };
                index += 1;
                Some(Event::default().data(json!(piece).to_string()))
            }
            ChatEvent::Done(Ok(reply)) => Some(
                Event::default()
                    .event("done")
                    .data(json!(Answer { message: reply }).to_string()),
            ),
            ChatEvent::Done(Err(err)) => {
                let body = super::frappe_error_body(err.status(), &err.to_string());
                Some(Event::default().event("error").data(body.to_string()))
            }
        };
        std::future::ready(event.map(Ok))
    })
}

/// A piece of a streamed answer: `chat.stream`'s unnamed events (Socket.IO's
/// `ai_progress`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPiece {
    /// The conversation.
    pub session_id: String,
    /// The text of this piece.
    pub chunk: String,
    /// Its position, from 0.
    pub index: u64,
}

/// `chat.send_message`'s answer: the seeds' ChatResponse, with the conversation and route.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentMessage {
    /// The ChatResponse.
    #[serde(flatten)]
    reply: chat::ChatReply,
    /// The conversation (the same as `session_id`).
    conversation_id: String,
    /// The chat route that answered.
    route: String,
}

/// An event of `chat.stream` (its `text/event-stream` schema, event by event).
pub struct ChatStreamEvent;

impl PartialSchema for ChatStreamEvent {
    fn schema() -> RefOr<Schema> {
        crate::api::openapi::sse::events(
            "An event of the stream; its `data` is JSON",
            &[
                ("message", "StreamPiece", "A piece of the answer"),
                (
                    "done",
                    "Answer_ChatReply",
                    "The whole answer (`{message: ChatResponse}`); the stream ends",
                ),
                (
                    "error",
                    "FrappeErrorBody",
                    "The chat failed (Frappe's error body); the stream ends",
                ),
            ],
        )
    }
}

impl ToSchema for ChatStreamEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        "OropendolaChatStreamEvent".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("StreamPiece".into(), StreamPiece::schema()));
        schemas.push((
            "Answer_ChatReply".into(),
            Answer::<chat::ChatReply>::schema(),
        ));
        <Answer<chat::ChatReply> as ToSchema>::schemas(schemas);
    }
}

/// `chat.get_history {session_id, limit?}`: the conversation's messages, oldest first.
/// Without `session_id`: the caller's conversations, most recent first.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.chat.get_history", tag = "oropendola",
    summary = "A conversation's messages",
    description = "A conversation's messages (`session_id`), or the caller's conversations",
    params(
        ("session_id" = Option<String>, Query, description = "The conversation; without it, the caller's conversations"),
    ),
    responses(
        (status = 200, description = "`{message: {…session, messages}}` or `{message: {sessions}}`", body = Answer<History>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 404, description = "Unknown conversation", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn get_history(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<History>>> {
    let session = match args.text("session_id")? {
        Some(id) => Some(id),
        None => args.text("conversation_id")?,
    };
    let Some(session) = session else {
        let limit = args.number("limit", 50, 1, 1000)?;
        let sessions = chat::sessions(&state.chat, Some(&caller.name), limit as i64)
            .await
            .map_err(chat_error)?;
        return Ok(answer(History::Conversations { sessions }));
    };
    let detail = chat::session_detail(&state.chat, &session)
        .await
        .map_err(chat_error)?;
    if detail.session.user_id != caller.name && caller.is_user {
        // Another user's conversation is as good as unknown.
        return Err(chat_error(chat::Error::UnknownSession(session)));
    }
    Ok(answer(History::Conversation(detail)))
}

/// `chat.get_history`'s answer. Built once per request and serialized at once, so the
/// size of its larger variant costs nothing worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum History {
    /// With `session_id`: the conversation and its messages, oldest first.
    Conversation(chat::SessionDetail),
    /// Without: the caller's conversations, most recent first.
    Conversations {
        /// The conversations.
        sessions: Vec<chat::SessionView>,
    },
}
