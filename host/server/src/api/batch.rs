//! `POST /api/batch`: several API requests in one (the seeds' request batcher).
//!
//! `{requests: [{method?, path | url, body?, headers?}]}` → `[{success, status, data |
//! error, details?}]`: a bare array, one result per request, in order (what seed 000's
//! `RequestBatcher` reads with `results.forEach`). Each request runs through the same
//! routes as if sent alone (`oneshot` on the API router without this route, so a batch
//! cannot nest), one after the other so their effects happen in the order given. A request
//! inherits the batch's `Authorization` and `Cookie` headers unless it sets its own.
//! At most [`MAX_REQUESTS`] per batch.
//!
//! A batch is no amplifier: with rate limits on, every request in it is taken from the
//! client's bucket (over the limit it answers 429 inside the batch), and the whole batch has
//! a deadline (`[server] batch_timeout_secs`, default 30 s): the request running when it
//! passes is cancelled and it and the rest answer 504.

use axum::body::{Body, to_bytes};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, header};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use tower::ServiceExt;
use utoipa::ToSchema;

use crate::api::openapi::ErrorBody;
use crate::auth::ratelimit::ClientLimit;
use crate::chat::json_type;
use crate::error::{ApiError, ApiJson, ApiResult};

/// Most requests one batch may hold.
pub const MAX_REQUESTS: usize = 50;
/// Largest response body a batched request may return.
const MAX_BODY: usize = 16 << 20;
/// The batch route itself.
pub const PATH: &str = "/api/batch";
/// Headers of the batch request that its requests inherit.
const INHERITED: [HeaderName; 2] = [header::AUTHORIZATION, header::COOKIE];

/// What the batch route works with.
#[derive(Clone)]
pub struct Batcher {
    /// The API without this route.
    api: Router,
    /// How long one batch may run in all.
    deadline: Duration,
}

/// The batch route, running its requests through `api` (a router without this route), each
/// batch within `deadline`.
pub fn routes(api: Router, deadline: Duration) -> Router {
    Router::new()
        .route(PATH, post(batch))
        .with_state(Batcher { api, deadline })
}

/// A batch, as documented.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct BatchBody {
    /// The requests, at most 50.
    requests: Vec<BatchItem>,
}

/// One request of a batch.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct BatchItem {
    /// HTTP method (default `GET`).
    method: Option<String>,
    /// Path and query, e.g. `/api/dev/ping`.
    path: Option<String>,
    /// Alternatively a URL; only its path and query are used.
    url: Option<String>,
    /// JSON body: free-form, whatever the sub-request's route takes.
    #[schema(value_type = Option<Object>)]
    body: Option<Value>,
    /// Extra headers (free-form names; string values).
    #[schema(value_type = Option<HashMap<String, String>>)]
    headers: Option<Map<String, Value>>,
}

/// The answer to a batch: one result per request, in order.
pub type BatchReply = Vec<BatchResult>;

/// The outcome of one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Whether it answered 2xx.
    pub success: bool,
    /// Its HTTP status.
    pub status: u16,
    /// Its JSON body, on success: free-form, whatever the sub-request's route answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// What went wrong, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failing response's body: free-form, in the sub-request's route's error shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// Runs several API requests in one.
#[utoipa::path(
    post, path = "/api/batch", tag = "batch",
    request_body = BatchBody,
    responses(
        (status = 200, description = "One result per request, in order", body = Vec<BatchResult>),
        (status = 400, description = "No `requests` array, or more than 50", body = ErrorBody),
    )
)]
pub async fn batch(
    State(batcher): State<Batcher>,
    limit: Option<Extension<ClientLimit>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<BatchReply>> {
    let requests = requests_of(body)?;
    let limit = limit.map(|Extension(limit)| limit);
    Ok(Json(
        run(
            &batcher.api,
            &headers,
            requests,
            limit.as_ref(),
            batcher.deadline,
        )
        .await,
    ))
}

/// The `requests` array of a batch body.
fn requests_of(body: Value) -> ApiResult<Vec<Value>> {
    let requests = match body {
        Value::Object(mut fields) => fields.remove("requests"),
        _ => None,
    };
    match requests {
        Some(Value::Array(requests)) if requests.len() <= MAX_REQUESTS => Ok(requests),
        Some(Value::Array(requests)) => Err(ApiError::bad_request(format!(
            "a batch holds at most {MAX_REQUESTS} requests, this one {}",
            requests.len()
        ))),
        _ => Err(ApiError::bad_request(
            "the body must be {\"requests\": [{method, path, body?, headers?}, ...]}",
        )),
    }
}

/// Runs `requests` through `api` in order, each taken from `limit` (when limits are on),
/// all within `deadline`; `inherited` are the batch's own headers.
pub async fn run(
    api: &Router,
    inherited: &HeaderMap,
    requests: Vec<Value>,
    limit: Option<&ClientLimit>,
    deadline: Duration,
) -> BatchReply {
    async fn checked(limit: Option<&ClientLimit>) -> Option<Result<(), Duration>> {
        match limit {
            Some(limit) => Some(limit.check().await),
            None => None,
        }
    }
    let until = tokio::time::Instant::now() + deadline;
    let mut results = Vec::with_capacity(requests.len());
    for item in requests {
        let result = match build(item, inherited) {
            Err(message) => failed(400, message, None),
            Ok(request) => match checked(limit).await {
                Some(Err(wait)) => failed(
                    429,
                    limit.map(|l| l.limiter().refusal()).unwrap_or_default(),
                    Some(serde_json::json!({
                        "retry_after_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    })),
                ),
                _ => match tokio::time::timeout_at(until, call(api, request)).await {
                    Ok(result) if tokio::time::Instant::now() < until => result,
                    _ => failed(
                        504,
                        format!(
                            "the batch ran out of time: a batch may run {} s in all \
                             ([server] batch_timeout_secs)",
                            deadline.as_secs()
                        ),
                        None,
                    ),
                },
            },
        };
        results.push(result);
    }
    results
}

/// A request of the batch that did not run or did not finish.
fn failed(status: u16, message: String, details: Option<Value>) -> BatchResult {
    BatchResult {
        success: false,
        status,
        data: None,
        error: Some(message),
        details,
    }
}

/// The HTTP request one batch item describes.
fn build(item: Value, inherited: &HeaderMap) -> Result<Request<Body>, String> {
    let Value::Object(mut fields) = item else {
        return Err(format!(
            "a batch request must be an object, not {}",
            json_type(&item)
        ));
    };
    let method = match fields.remove("method") {
        None | Some(Value::Null) => Method::GET,
        Some(Value::String(m)) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{m}` is not an HTTP method"))?,
        Some(other) => {
            return Err(format!(
                "method must be a string, not {}",
                json_type(&other)
            ));
        }
    };
    let target = match (fields.remove("path"), fields.remove("url")) {
        (Some(Value::String(p)), _) | (None | Some(Value::Null), Some(Value::String(p))) => p,
        _ => return Err("a batch request needs a `path` (or `url`) string".into()),
    };
    let uri: Uri = target
        .parse()
        .map_err(|e| format!("`{target}` is not a path or URL: {e}"))?;
    let path_and_query = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .filter(|pq| pq.starts_with('/'))
        .ok_or_else(|| format!("`{target}` has no path"))?;
    if uri.path() == PATH {
        return Err("batches cannot be nested".into());
    }

    let mut request = Request::builder().method(method).uri(path_and_query);
    let own = match fields.remove("headers") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(own)) => own,
        Some(other) => {
            return Err(format!(
                "headers must be an object, not {}",
                json_type(&other)
            ));
        }
    };
    let mut headers = HeaderMap::new();
    for name in INHERITED {
        if let Some(value) = inherited.get(&name) {
            headers.insert(name, value.clone());
        }
    }
    for (name, value) in own {
        let Value::String(value) = value else {
            return Err(format!("header `{name}` must be a string"));
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of header `{name}` is not valid"))?;
        headers.insert(name, value);
    }
    let body = match fields.remove("body") {
        None | Some(Value::Null) => Body::empty(),
        Some(body) => {
            headers
                .entry(header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Body::from(body.to_string())
        }
    };
    if let Some(map) = request.headers_mut() {
        map.extend(headers);
    }
    request.body(body).map_err(|e| e.to_string())
}

/// Sends one request through `api` and reads its answer.
async fn call(api: &Router, request: Request<Body>) -> BatchResult {
    let response = match api.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = match to_bytes(response.into_body(), MAX_BODY).await {
        Ok(bytes) if bytes.is_empty() => Value::Null,
        Ok(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) => Value::String(format!("the response could not be read: {e}")),
    };
    if status.is_success() {
        BatchResult {
            success: true,
            status: status.as_u16(),
            data: Some(body),
            error: None,
            details: None,
        }
    } else {
        let error = ["message", "error"]
            .iter()
            .find_map(|key| body.get(key).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_string());
        BatchResult {
            success: false,
            status: status.as_u16(),
            data: None,
            error: Some(error),
            details: Some(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::api::test_support::{send, state};

    fn post_batch(body: Value) -> Request<Body> {
        Request::post(PATH)
            .header("content-type", "application/json")
            .header("authorization", "Bearer inherited")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn each_request_runs_through_the_api_and_answers_in_order() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let (status, _, body) = send(
            app,
            post_batch(json!({"requests": [
                {"method": "GET", "path": "/api/dev/ping"},
                {"method": "post", "url": "http://localhost:5000/api/dev/echo", "body": {"n": 1},
                 "headers": {"x-requested-with": "XMLHttpRequest"}},
                {"path": "/api/nope"},
                {"method": "POST", "path": "/api/chat/mama-bear", "body": {}},
                {"path": "/api/batch", "method": "POST", "body": {"requests": []}},
                {"method": 5, "path": "/"},
                "not an object",
            ]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let results = body.as_array().expect("a bare array of results");
        assert_eq!(results.len(), 7);

        assert_eq!(results[0]["success"], true);
        assert_eq!(results[0]["status"], 200);
        assert_eq!(results[0]["data"]["status"], "pong");

        assert_eq!(results[1]["success"], true);
        assert_eq!(results[1]["data"]["echo"], json!({"n": 1}));
        assert_eq!(
            results[1]["data"]["headers"]["x-requested-with"],
            "XMLHttpRequest"
        );
        assert_eq!(
            results[1]["data"]["headers"]["authorization"], "[redacted]",
            "the batch's credentials are inherited"
        );

        assert_eq!(results[2]["success"], false);
        assert_eq!(results[2]["status"], 404);
        assert_eq!(results[2]["error"], "No route for GET /api/nope");

        assert_eq!(results[3]["status"], 400);
        assert_eq!(results[3]["error"], "message is required");
        assert!(results[3].get("data").is_none());

        for refused in &results[4..] {
            assert_eq!(refused["success"], false);
            assert_eq!(refused["status"], 400);
            assert!(refused["error"].is_string(), "{refused}");
        }
        assert!(
            results[4]["error"]
                .as_str()
                .is_some_and(|e| e.contains("nested"))
        );
    }

    #[tokio::test]
    async fn an_empty_batch_succeeds_with_no_results() {
        let (state, _db, _dir) = state().await;
        let (status, _, body) = send(crate::app(state), post_batch(json!({"requests": []}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!([]));
    }

    #[tokio::test]
    async fn a_batch_of_more_than_fifty_or_without_requests_is_a_400() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let many: Vec<Value> = (0..51).map(|_| json!({"path": "/api/dev/ping"})).collect();
        for body in [
            json!({"requests": many}),
            json!({}),
            json!({"requests": "x"}),
            json!([]),
        ] {
            let (status, _, answer) = send(app.clone(), post_batch(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(answer["success"], false);
        }
        let fifty: Vec<Value> = (0..50).map(|_| json!({"path": "/api/dev/ping"})).collect();
        let (status, _, answer) = send(app, post_batch(json!({"requests": fifty}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer.as_array().map(Vec::len), Some(50));
    }

    fn api() -> Router {
        Router::new()
            .route(
                "/fast",
                axum::routing::get(|| async { Json(json!({"ok": true})) }),
            )
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Json(json!({"ok": true}))
                }),
            )
    }

    #[tokio::test]
    async fn every_request_of_a_batch_is_taken_from_the_clients_rate_limit() {
        let limiter = std::sync::Arc::new(
            crate::auth::ratelimit::Limiter::new(&crate::config::RateLimitConfig {
                per_second: 1,
                burst: Some(3),
                trust_forwarded: false,
            })
            .expect("on"),
        );
        let limit = ClientLimit::new(limiter, "ip:192.0.2.1".into());
        let requests = (0..5).map(|_| json!({"path": "/fast"})).collect();
        let results = run(
            &api(),
            &HeaderMap::new(),
            requests,
            Some(&limit),
            Duration::from_secs(30),
        )
        .await;
        let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429]);
        assert!(
            results[3]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("at most 1 a second"))
        );
        assert!(
            limit.check().await.is_err(),
            "the batch used the client's bucket up"
        );
    }

    #[tokio::test]
    async fn a_batch_past_its_deadline_answers_504_for_the_rest() {
        let requests = vec![
            json!({"path": "/fast"}),
            json!({"path": "/slow"}),
            json!({"path": "/fast"}),
        ];
        let results = run(
            &api(),
            &HeaderMap::new(),
            requests,
            None,
            Duration::from_millis(300),
        )
        .await;
        let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 504, 504]);
        assert!(
            results[1]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("batch_timeout_secs"))
        );
    }
}
