//! Error shapes: each surface's body and status, the uniform rewrite of plain-text
//! rejections, and the envelope of seed 001.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::post;
use tower::ServiceExt;

use super::*;

async fn render(err: ApiError) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = err.into_response();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).expect("JSON body"),
    )
}

#[tokio::test]
async fn client_errors_answer_their_status_in_the_seed_body() {
    for (err, status) in [
        (ApiError::bad_request("m"), 400),
        (ApiError::unauthorized("m"), 401),
        (ApiError::forbidden("m"), 403),
        (ApiError::not_found("m"), 404),
        (ApiError::conflict("m"), 409),
        (ApiError::unprocessable("m"), 422),
        (
            ApiError::too_many_requests("m", Duration::from_secs(1)),
            429,
        ),
        (ApiError::unavailable("m"), 503),
    ] {
        let (got, _, body) = render(err).await;
        assert_eq!(got.as_u16(), status);
        assert_eq!(body["success"], false);
        assert_eq!(body["message"], "m");
        assert_eq!(body["error"], got.canonical_reason().expect("a reason"));
        let timestamp = body["timestamp"].as_str().expect("a timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok());
        assert!(body.get("details").is_none());
    }
}

#[tokio::test]
async fn details_and_a_custom_error_are_shown() {
    let err = ApiError::bad_request("message is required")
        .with_error("Validation failed")
        .with_details(serde_json::json!({"field": "message"}));
    let (_, _, body) = render(err).await;
    assert_eq!(body["error"], "Validation failed");
    assert_eq!(body["details"]["field"], "message");
}

#[tokio::test]
async fn too_many_requests_says_when_to_retry_rounding_up() {
    let (_, headers, _) = render(ApiError::too_many_requests(
        "slow down",
        Duration::from_millis(1500),
    ))
    .await;
    assert_eq!(headers[header::RETRY_AFTER], "2");
}

/// Captures what `tracing` writes while `f` runs.
fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let logs = String::from_utf8_lossy(&sink.0.lock().expect("sink")).into_owned();
    (out, logs)
}

#[tokio::test]
async fn an_internal_error_hides_its_cause_and_logs_it_under_the_error_id() {
    let cause = anyhow::anyhow!("disk on fire").context("saving the session");
    let (response, logs) = capture_logs(|| ApiError::internal(cause).into_response());
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("disk on fire"), "{text}");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(body["error"], "Internal Server Error");
    assert!(body["timestamp"].is_string());
    let id = body["error_id"].as_str().expect("an error id");
    // ERR-YYYYMMDD-HHMMSS-xxxxxx
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 4, "{id}");
    assert_eq!(parts[0], "ERR");
    assert!(
        parts[1].len() == 8 && parts[1].chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert!(
        parts[2].len() == 6 && parts[2].chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert!(
        parts[3].len() == 6 && parts[3].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(logs.contains(id), "{logs}");
    assert!(
        logs.contains("disk on fire") && logs.contains("saving the session"),
        "{logs}"
    );
}

#[test]
fn two_error_ids_in_the_same_second_differ() {
    assert_ne!(error_id(), error_id());
}

#[tokio::test]
async fn question_mark_on_any_error_makes_an_internal_error() {
    fn fails() -> ApiResult<()> {
        let _: u8 = "300".parse()?;
        Ok(())
    }
    let err = fails().expect_err("fails");
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

fn json_app() -> Router {
    #[derive(serde::Deserialize)]
    struct Payload {
        #[allow(dead_code)]
        message: String,
    }
    Router::new().route("/", post(|ApiJson(_): ApiJson<Payload>| async { "ok" }))
}

async fn post_body(content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut request = axum::http::Request::post("/");
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let response = json_app()
        .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn malformed_json_is_a_400_in_the_seed_body() {
    let (status, body) = post_body(Some("application/json"), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "Bad Request");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_400_naming_the_field() {
    let (status, body) = post_body(Some("application/json"), r#"{"msg": "hi"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("message")),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_a_415_in_the_seed_body() {
    let (status, body) = post_body(None, r#"{"message": "hi"}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn well_formed_json_reaches_the_handler() {
    let response = json_app()
        .oneshot(
            axum::http::Request::post("/")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"message": "hi"}"#))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn render_envelope(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

#[tokio::test]
async fn an_envelope_answers_success_and_data() {
    let (status, body) =
        render_envelope(Envelope(serde_json::json!({"jobs": []})).into_response()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"success": true, "data": {"jobs": []}})
    );
}

#[tokio::test]
async fn an_envelope_error_answers_its_status_message_and_details() {
    let err = EnvelopeError::conflict("job `job-1` is completed")
        .with_details(serde_json::json!({"status": "completed"}));
    let (status, body) = render_envelope(err.into_response()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["success"], false);
    assert!(body.get("data").is_none());
    assert_eq!(body["error"]["message"], "job `job-1` is completed");
    assert_eq!(body["error"]["status"], 409);
    assert_eq!(body["error"]["details"]["status"], "completed");
}

#[tokio::test]
async fn an_api_error_becomes_an_envelope_error_with_its_status_and_message() {
    let err = EnvelopeError::from(ApiError::unauthorized("an admin key is required"));
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    let (_, body) = render_envelope(err.into_response()).await;
    assert_eq!(body["error"]["message"], "an admin key is required");
    assert_eq!(body["error"]["status"], 401);
}

#[tokio::test]
async fn an_internal_envelope_error_hides_its_cause_behind_an_error_id() {
    let err = EnvelopeError::internal(anyhow::anyhow!("disk on fire"));
    let (status, body) = render_envelope(err.into_response()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.to_string().contains("disk on fire"), "{body}");
    assert_eq!(body["error"]["message"], "Internal Server Error");
    assert!(
        body["error"]["details"]["error_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ERR-")),
        "{body}"
    );
}
