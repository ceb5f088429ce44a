//! `/api/chat/*`: the seeds' chat routes and chat sessions. Each handler extracts, calls
//! one function of [`crate::chat`] and maps its error: a bad request is 400, no provider
//! 503, a provider that times out 504, one that judged the input bad 400, any other
//! provider failure 502, an unknown session 404.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::api::openapi::ErrorBody;
use crate::chat::{
    self, ChatInput, ChatReply, ChatRequestBody, NewSession, NewSessionBody, SessionDetail,
    SessionView,
};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::providers::{MAMA_BEAR, VERTEX_GARDEN};
use crate::state::AppState;

/// Most sessions one listing returns.
const MAX_LIMIT: i64 = 1000;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/chat/mama-bear", post(mama_bear))
        .route("/api/chat/vertex-garden/chat", post(vertex_garden))
        .route(
            "/api/chat/sessions",
            get(list_sessions).post(create_session),
        )
        .route("/api/chat/sessions/{id}", get(show_session))
}

/// Chat with Mama Bear, the primary assistant.
#[utoipa::path(
    post, path = "/api/chat/mama-bear", tag = "chat",
    request_body = ChatRequestBody,
    responses(
        (status = 200, description = "The answer", body = ChatReply),
        (status = 400, description = "Missing, empty or non-string `message`", body = ErrorBody),
        (status = 502, description = "The provider plugin failed", body = ErrorBody),
        (status = 503, description = "No AI provider is loaded", body = ErrorBody),
        (status = 504, description = "The provider timed out", body = ErrorBody),
    )
)]
pub async fn mama_bear(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ChatReply>> {
    chat_on(&state, MAMA_BEAR, body).await
}

/// Chat on the `vertex-garden` route (same shapes as `mama-bear`).
#[utoipa::path(
    post, path = "/api/chat/vertex-garden/chat", tag = "chat",
    request_body = ChatRequestBody,
    responses(
        (status = 200, description = "The answer", body = ChatReply),
        (status = 400, description = "Missing, empty or non-string `message`", body = ErrorBody),
        (status = 502, description = "The provider plugin failed", body = ErrorBody),
        (status = 503, description = "No AI provider is loaded", body = ErrorBody),
        (status = 504, description = "The provider timed out", body = ErrorBody),
    )
)]
pub async fn vertex_garden(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ChatReply>> {
    chat_on(&state, VERTEX_GARDEN, body).await
}

async fn chat_on(state: &AppState, route: &str, body: Value) -> ApiResult<Json<ChatReply>> {
    let input = ChatInput::from_json(body).map_err(chat_error)?;
    let reply = chat::send(&state.chat, route, input, chat::Surface::Json)
        .outcome()
        .await
        .map_err(chat_error)?;
    Ok(Json(reply))
}

/// Query of `GET /api/chat/sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// Only this user's sessions.
    user_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// The chat sessions, most recently updated first.
#[utoipa::path(
    get, path = "/api/chat/sessions", tag = "chat",
    params(SessionsQuery),
    responses((status = 200, description = "Sessions with metadata", body = Vec<SessionView>))
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    Query(query): Query<SessionsQuery>,
) -> ApiResult<Json<Vec<SessionView>>> {
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let sessions = chat::sessions(&state.chat, query.user_id.as_deref(), limit)
        .await
        .map_err(chat_error)?;
    Ok(Json(sessions))
}

/// Creates a chat session.
#[utoipa::path(
    post, path = "/api/chat/sessions", tag = "chat",
    request_body(content = Option<NewSessionBody>, description = "Optional; any other fields are kept as metadata"),
    responses(
        (status = 201, description = "The new session", body = SessionView),
        (status = 400, description = "A field of the wrong type", body = ErrorBody),
    )
)]
pub async fn create_session(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let body = optional_json(&body)?;
    let new = NewSession::from_json(body).map_err(chat_error)?;
    let session = chat::create_session(&state.chat, new)
        .await
        .map_err(chat_error)?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// A chat session with its messages.
#[utoipa::path(
    get, path = "/api/chat/sessions/{id}", tag = "chat",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session and its messages, oldest first", body = SessionDetail),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn show_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionDetail>> {
    let detail = chat::session_detail(&state.chat, &id)
        .await
        .map_err(chat_error)?;
    Ok(Json(detail))
}

/// An optional JSON body: empty means none; anything else must be JSON.
fn optional_json(body: &[u8]) -> ApiResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

/// The HTTP answer to a chat failure.
pub fn chat_error(err: chat::Error) -> ApiError {
    let status = err.status();
    match err {
        chat::Error::Invalid { field, message } => {
            ApiError::bad_request(message).with_details(json!({ "field": field }))
        }
        chat::Error::Storage(e) => ApiError::internal(e),
        chat::Error::Provider(call) => {
            ApiError::new(status, call.to_string()).with_details(json!({ "code": call.code() }))
        }
        err => ApiError::new(status, err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::api::test_support::{get, send, state};
    use crate::runtime::CallError;

    fn post_json(uri: &str, body: Value) -> Request<Body> {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn a_chat_without_a_usable_message_is_a_400_in_the_seed_body() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        for body in [
            json!({}),
            json!({"message": ""}),
            json!({"message": 3}),
            json!({"user_id": "test"}),
        ] {
            for uri in ["/api/chat/mama-bear", "/api/chat/vertex-garden/chat"] {
                let (status, _, answer) = send(app.clone(), post_json(uri, body.clone())).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body}");
                assert_eq!(answer["success"], false);
                assert_eq!(answer["error"], "Bad Request");
                assert!(
                    answer["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("message"))
                );
                assert_eq!(answer["details"]["field"], "message");
                assert!(answer["timestamp"].is_string());
            }
        }
    }

    #[tokio::test]
    async fn a_chat_with_no_provider_loaded_is_a_503_in_the_seed_body() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        let (status, _, body) = send(
            app,
            post_json("/api/chat/mama-bear", json!({"message": "Hello"})),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "Service Unavailable");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("mama-bear"))
        );
    }

    #[tokio::test]
    async fn a_created_session_is_listed_and_shown_with_its_metadata() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        let (status, _, created) = send(
            app.clone(),
            post_json(
                "/api/chat/sessions",
                json!({"user_id": "nathan", "title": "Plans", "project": "web"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["id"].as_str().expect("an id").to_string();
        assert_eq!(created["session_id"], id.as_str());
        assert_eq!(created["user_id"], "nathan");
        assert_eq!(created["title"], "Plans");
        assert_eq!(created["message_count"], 0);
        assert_eq!(created["last_message_at"], Value::Null);
        assert_eq!(created["metadata"]["project"], "web");
        assert_eq!(created["metadata"]["message_count"], 0);
        assert!(created["created_at"].is_string() && created["updated_at"].is_string());

        let (status, _, listed) = send(app.clone(), get("/api/chat/sessions")).await;
        assert_eq!(status, StatusCode::OK);
        let listed = listed.as_array().expect("an array of sessions");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["metadata"]["title"], "Plans");

        let (status, _, shown) = send(app.clone(), get(&format!("/api/chat/sessions/{id}"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["id"], id.as_str());
        assert_eq!(shown["messages"], json!([]));

        let (status, _, others) = send(app, get("/api/chat/sessions?user_id=else")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(others, json!([]));
    }

    #[tokio::test]
    async fn a_session_can_be_created_without_a_body() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        let request = Request::post("/api/chat/sessions")
            .body(Body::empty())
            .expect("request");
        let (status, _, created) = send(app, request).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["user_id"], chat::ANONYMOUS);
        assert_eq!(created["title"], Value::Null);
    }

    #[tokio::test]
    async fn a_session_body_of_the_wrong_shape_is_a_400() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        for body in ["[1]", "{\"title\": 5}", "{not json"] {
            let request = Request::post("/api/chat/sessions")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let (status, _, answer) = send(app.clone(), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(answer["success"], false);
        }
    }

    #[tokio::test]
    async fn an_unknown_session_is_a_404_in_the_seed_body() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        let (status, _, body) = send(app, get("/api/chat/sessions/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["success"], false);
        assert!(body["message"].as_str().is_some_and(|m| m.contains("nope")));
    }

    #[test]
    fn provider_failures_map_to_gateway_statuses() {
        let plugin = |code| CallError::Plugin {
            plugin: "p".into(),
            code,
            message: "m".into(),
        };
        for (err, status) in [
            (plugin("invalid-input"), StatusCode::BAD_REQUEST),
            (plugin("unavailable"), StatusCode::SERVICE_UNAVAILABLE),
            (plugin("failed"), StatusCode::BAD_GATEWAY),
            (plugin("denied"), StatusCode::BAD_GATEWAY),
            (
                CallError::Timeout {
                    plugin: "p".into(),
                    ms: 1,
                },
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                CallError::Trap {
                    plugin: "p".into(),
                    message: "boom".into(),
                },
                StatusCode::BAD_GATEWAY,
            ),
        ] {
            assert_eq!(chat_error(chat::Error::Provider(err)).status(), status);
        }
    }
}
