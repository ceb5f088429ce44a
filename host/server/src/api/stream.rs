//! `POST /api/chat/stream`: the seeds' chat (seed 004's SSE streaming) over server-sent
//! events. The body is the ChatRequest plus an optional `route` (default `mama-bear`). The
//! answer streams as `event: chunk` `{chunk, index}` while the provider works, then
//! `event: done` with the whole ChatResponse; a failure is `event: error`
//! `{success:false, error, code, status}`. A request that is bad, names no route, or finds
//! no provider loaded is refused before the stream starts, with a plain JSON error.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};

use crate::api::chat::chat_error;
use crate::api::openapi::ErrorBody;
use crate::chat::{self, ChatEvent, ChatInput, ChatReply, ChatStream};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::providers::{self, MAMA_BEAR};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/chat/stream", post(stream_chat))
}

/// Chat on a route, streamed as server-sent events.
#[utoipa::path(
    post, path = "/api/chat/stream", tag = "chat",
    request_body(content = crate::chat::ChatRequestBody, description = "A ChatRequest, plus an optional `route` (default `mama-bear`)"),
    responses(
        (status = 200, description = "`text/event-stream`: `chunk` events `{chunk, index}`, then `done` with the ChatResponse, or `error`", body = ChatStreamEvent, content_type = "text/event-stream"),
        (status = 400, description = "Missing, empty or non-string `message`, or a non-string `route`", body = ErrorBody),
        (status = 404, description = "No route has that name", body = ErrorBody),
        (status = 503, description = "No AI provider of the route is loaded", body = ErrorBody),
    )
)]
pub async fn stream_chat(
    State(state): State<AppState>,
    ApiJson(mut body): ApiJson<Value>,
) -> ApiResult<Response> {
    let route = match body
        .as_object_mut()
        .and_then(|fields| fields.remove("route"))
    {
        None | Some(Value::Null) => MAMA_BEAR.to_string(),
        Some(Value::String(route)) => route,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "route must be a string, not {}",
                chat::json_type(&other)
            ))
            .with_details(json!({ "field": "route" })));
        }
    };
    let input = ChatInput::from_json(body).map_err(chat_error)?;
    if state.chat.providers.route(&route).is_none() {
        return Err(ApiError::not_found(format!(
            "No chat route is named {route}"
        )));
    }
    if providers::provider_for_route(&state.chat, &route).is_none() {
        return Err(chat_error(chat::Error::NoProvider { route }));
    }

    // The chat runs on its own task: a client that goes away does not cut the provider
    // off mid-answer, and the turn is still stored in its session.
    let chat = chat::send(&state.chat, &route, input, chat::Surface::Sse);
    let mut response = Sse::new(events(chat))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&route) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-sanctuary-route"), value);
    }
    Ok(response)
}

/// The SSE events of a chat: a `chunk` per piece, then `done` or `error`.
fn events(
    chat: ChatStream<chat::Result<ChatReply>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut index = 0_u64;
    chat.filter_map(move |event| {
        let event = match event {
            ChatEvent::Serving { .. } => None,
            ChatEvent::Chunk(chunk) => {
                index += 1;
                Some(json_event(
                    "chunk",
                    &Chunk {
                        chunk,
                        index: index - 1,
                    },
                ))
            }
            ChatEvent::Done(Ok(reply)) => Some(json_event("done", &reply)),
            ChatEvent::Done(Err(err)) => Some(json_event(
                "error",
                &StreamFailure {
                    success: false,
                    error: err.to_string(),
                    code: err.code(),
                    status: err.status().as_u16(),
                    timestamp: crate::clock::timestamp(),
                },
            )),
        };
        std::future::ready(event.map(Ok))
    })
}

/// A piece of the answer: a `chunk` event's data.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Chunk {
    /// The text of this piece.
    pub chunk: String,
    /// Its position, from 0.
    pub index: u64,
}

/// Why the chat failed: an `error` event's data.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StreamFailure {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: String,
    /// `provider_error`, `timeout`, `no_provider`, `invalid_request`, `unknown_session`,
    /// `storage`, ... (the provider failure's code).
    pub code: &'static str,
    /// The HTTP status the same failure answers outside a stream.
    pub status: u16,
    /// When (RFC 3339).
    pub timestamp: String,
}

/// An event of `POST /api/chat/stream` (its `text/event-stream` schema, event by event).
pub struct ChatStreamEvent;

impl utoipa::PartialSchema for ChatStreamEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::api::openapi::sse::events(
            "An event of the stream; its `data` is JSON",
            &[
                ("chunk", "Chunk", "A piece of the answer"),
                (
                    "done",
                    "ChatReply",
                    "The whole answer (the ChatResponse); the stream ends",
                ),
                ("error", "StreamFailure", "The chat failed; the stream ends"),
            ],
        )
    }
}

impl utoipa::ToSchema for ChatStreamEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        "ChatStreamEvent".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema as _;
        schemas.push(("Chunk".into(), Chunk::schema()));
        schemas.push(("StreamFailure".into(), StreamFailure::schema()));
        schemas.push(("ChatReply".into(), ChatReply::schema()));
        <ChatReply as utoipa::ToSchema>::schemas(schemas);
    }
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};

    use super::*;
    use crate::api::test_support::{send, state};

    fn post(body: Value) -> Request<Body> {
        Request::post("/api/chat/stream")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_the_stream_starts() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let (status, _, body) = send(app.clone(), post(json!({"message": ""}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["details"]["field"], "message");
        let (status, _, body) = send(app.clone(), post(json!({"message": "hi", "route": 5}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["details"]["field"], "route");
        let (status, _, _) =
            send(app.clone(), post(json!({"message": "hi", "route": "nope"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The test state loads no plugins.
        let (status, _, body) = send(app, post(json!({"message": "hi"}))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
}
