//! The HTTP error type. Every failing route answers with a real status and the seeds' error
//! body, `{success:false, error, message?, timestamp, details?}`. An unexpected failure
//! answers 500 `{error:"Internal Server Error", error_id, timestamp}` and hides its cause from
//! the client: the cause is logged under the same `error_id`, so an operator can find it.
//!
//! Handlers return `Result<_, ApiError>`; `?` on any `anyhow`-compatible error makes it an
//! internal one. Request bodies use [`ApiJson`], so malformed JSON is answered in the same
//! body instead of axum's plain-text rejection.
//!
//! [`uniform_errors`] catches what no handler wrote: an error answered as plain text (or
//! with no body) by an extractor's rejection (a query string or path that does not parse,
//! a body over the size limit) or a library is rewritten into the shape of its route's
//! surface: OpenAI's `{error:{message, type, param, code}}` on `/v1/`, a JSON-RPC error on
//! `/mcp`, the seed-001 envelope on `/api/jobs`, `/api/analytics` and `/api/cache`, and the
//! seeds' error body everywhere else. Its status is kept.

use std::borrow::Cow;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::clock;

/// Result of a route handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError(Inner);

#[derive(Debug)]
enum Inner {
    /// Something the client can act on: shown as is.
    Client {
        status: StatusCode,
        error: Cow<'static, str>,
        message: Option<String>,
        details: Option<Value>,
        retry_after: Option<Duration>,
    },
    /// A failure of ours: logged, shown only as an error id.
    Internal(anyhow::Error),
}

/// The seeds' error body.
#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

/// The seeds' body for an unexpected failure.
#[derive(Serialize)]
struct InternalBody {
    success: bool,
    error: &'static str,
    error_id: String,
    timestamp: String,
}

impl ApiError {
    /// An error with `status`; `error` is the status's reason phrase, `message` says what
    /// went wrong in words the client can act on.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError(Inner::Client {
            status,
            error: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            message: Some(message.into()),
            details: None,
            retry_after: None,
        })
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: credentials are missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the credentials do not allow this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: conflicts with the current state (e.g. already installed).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 422: well-formed but invalid.
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 429 with a `Retry-After` header (whole seconds, rounded up).
    pub fn too_many_requests(message: impl Into<String>, retry_after: Duration) -> ApiError {
        let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message);
        if let Inner::Client { retry_after: r, .. } = &mut err.0 {
            *r = Some(retry_after);
        }
        err
    }

    /// 503: a service this needs is down (e.g. no AI provider loaded).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500: an unexpected failure; `cause` is logged, never shown.
    pub fn internal(cause: anyhow::Error) -> ApiError {
        ApiError(Inner::Internal(cause))
    }

    /// Replaces the short `error` field (the reason phrase by default).
    pub fn with_error(mut self, error: impl Into<Cow<'static, str>>) -> ApiError {
        if let Inner::Client { error: e, .. } = &mut self.0 {
            *e = error.into();
        }
        self
    }

    /// Adds a `details` field (e.g. which fields were invalid).
    pub fn with_details(mut self, details: Value) -> ApiError {
        if let Inner::Client { details: d, .. } = &mut self.0 {
            *d = Some(details);
        }
        self
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            Inner::Client { status, .. } => *status,
            Inner::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Any error that `?` meets in a handler is unexpected, hence internal. (`ApiError` is not
/// itself a `std::error::Error`, which is what keeps this blanket impl coherent.)
impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(err: E) -> ApiError {
        ApiError::internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            Inner::Client {
                status,
                error,
                message,
                details,
                retry_after,
            } => {
                let body = ErrorBody {
                    success: false,
                    error: &error,
                    message: message.as_deref(),
                    timestamp: clock::timestamp(),
                    details: details.as_ref(),
                };
                let mut response = (status, axum::Json(body)).into_response();
                if let Some(after) = retry_after {
                    let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
            Inner::Internal(cause) => {
                let error_id = error_id();
                tracing::error!(%error_id, cause = format!("{cause:#}"), "internal server error");
                let body = InternalBody {
                    success: false,
                    error: "Internal Server Error",
                    error_id,
                    timestamp: clock::timestamp(),
                };
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
        }
    }
}

/// `ERR-YYYYMMDD-HHMMSS-<6 hex>`: the seeds' id plus a random suffix, so two failures in
/// one second stay distinguishable.
fn error_id() -> String {
    let random = uuid::Uuid::new_v4();
    let suffix = hex::encode(&random.as_bytes()[..3]);
    format!(
        "ERR-{}-{suffix}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    )
}

/// A JSON request body whose rejection is an [`ApiError`]: malformed or mistyped JSON is
/// 400 and a missing `Content-Type: application/json` is 415, both in the seeds' body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

// Not a `From` impl: the blanket `From<E: Into<anyhow::Error>>` would make it internal.
fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, rejection.body_text())
}

/// Largest plain-text error body [`uniform_errors`] reads to reshape.
const MAX_PLAIN_ERROR: usize = 64 << 10;

/// The error surfaces of the API, by path: which error body a route answers. The API
/// description documents each route's errors with [`Surface::schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    /// The seeds' `{success:false, error, message, timestamp}`.
    Seed,
    /// Seed 001's envelope (`/api/jobs`, `/api/analytics`, `/api/cache`, `/ws/jobs`) and
    /// seed 003's (`/api/v1/documents`, `/api/v1/projects`, `/api/v1/calendar`).
    Envelope,
    /// OpenAI's error object.
    OpenAi,
    /// A JSON-RPC error.
    JsonRpc,
    /// Frappe's `{exc_type, exception, message, _server_messages}` (`/api/method/`).
    Frappe,
}

impl Surface {
    /// The surface of the route at `path`.
    pub(crate) fn of(path: &str) -> Surface {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/v1") {
            Surface::OpenAi
        } else if under("/mcp") {
            Surface::JsonRpc
        } else if path.starts_with("/api/method/") {
            Surface::Frappe
        } else if [
            "/api/jobs",
            "/api/analytics",
            "/api/cache",
            "/ws/jobs",
            "/api/v1/documents",
            "/api/v1/projects",
            "/api/v1/calendar",
        ]
        .into_iter()
        .any(under)
        {
            Surface::Envelope
        } else {
            Surface::Seed
        }
    }

    /// The name of the schema of this surface's error body in the API description.
    pub(crate) fn schema(self) -> &'static str {
        match self {
            Surface::Seed => "ErrorBody",
            Surface::Envelope => "EnvelopeFailure",
            Surface::OpenAi => "OpenAiErrorBody",
            Surface::JsonRpc => "JsonRpcErrorBody",
            Surface::Frappe => "FrappeErrorBody",
        }
    }
}

/// Middleware: rewrites a plain-text or empty error answer (an extractor's rejection, a
/// library's) into its route's error shape, keeping the status and the headers that
/// matter (`Allow`, `Retry-After`, `WWW-Authenticate`). JSON answers and streams pass.
pub async fn uniform_errors(request: Request, next: axum::middleware::Next) -> Response {
    let surface = Surface::of(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.contains("json") || content_type.contains("event-stream") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    // A library's 500 over a body it could not read is the client's doing (it stopped
    // sending, or too slowly): a 400.
    let status = if status == StatusCode::INTERNAL_SERVER_ERROR && message.contains("request body")
    {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let mut reshaped = match surface {
        Surface::Seed => ApiError::new(status, message).into_response(),
        Surface::Frappe => (
            status,
            axum::Json(crate::api::oropendola::frappe_error_body(status, &message)),
        )
            .into_response(),
        Surface::Envelope => EnvelopeError::new(status, message).into_response(),
        Surface::OpenAi => {
            let kind = if status.is_server_error() {
                "server_error"
            } else {
                "invalid_request_error"
            };
            let body = serde_json::json!({
                "error": {"message": message, "type": kind, "param": null, "code": null}
            });
            (status, axum::Json(body)).into_response()
        }
        Surface::JsonRpc => {
            let code = if status.is_server_error() {
                -32603
            } else {
                -32600
            };
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": code, "message": message},
            });
            (status, axum::Json(body)).into_response()
        }
    };
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = parts.headers.get(&name) {
            reshaped.headers_mut().insert(name, value.clone());
        }
    }
    reshaped
}

/// The seed-001 success body, `{success:true, data}`, used by the jobs, analytics and cache
/// routes (seed 001's `APIResponse<T>`). Pair it with [`EnvelopeError`] for failures.
#[derive(Debug, Clone)]
pub struct Envelope<T>(pub T);

/// The seed-001 body itself: `{success, data?, error?:{message, status?, details?}}`.
#[derive(Serialize)]
struct EnvelopeBody<'a, T> {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<EnvelopeErrorBody<'a>>,
}

#[derive(Serialize)]
struct EnvelopeErrorBody<'a> {
    message: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

/// The seed-001 success body `{success: true, data}`, as an [`Envelope`] answers (the
/// schema the API description gives its routes' successes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvelopeData<T> {
    /// Always `true`.
    pub success: bool,
    /// The answer.
    pub data: T,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let body = EnvelopeData {
            success: true,
            data: self.0,
        };
        axum::Json(body).into_response()
    }
}

/// Result of a route answering in the seed-001 envelope.
pub type EnvelopeResult<T> = Result<Envelope<T>, EnvelopeError>;

/// An error answered in the seed-001 envelope:
/// `{success:false, error:{message, status, details?}}` with the same HTTP status. An
/// unexpected failure answers 500 with `details.error_id` and logs its cause under that id,
/// like [`ApiError::internal`]. Any [`ApiError`] (e.g. an extractor's rejection) converts
/// into one, keeping its status, message and details.
#[derive(Debug)]
pub struct EnvelopeError {
    status: StatusCode,
    message: String,
    details: Option<Value>,
    retry_after: Option<Duration>,
    cause: Option<anyhow::Error>,
}

impl EnvelopeError {
    /// An error with `status` and a message the client can act on.
    pub fn new(status: StatusCode, message: impl Into<String>) -> EnvelopeError {
        EnvelopeError {
            status,
            message: message.into(),
            details: None,
            retry_after: None,
            cause: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> EnvelopeError {
        EnvelopeError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> EnvelopeError {
        EnvelopeError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> EnvelopeError {
        EnvelopeError::new(StatusCode::CONFLICT, message)
    }

    /// 500: an unexpected failure; `cause` is logged, never shown.
    pub fn internal(cause: anyhow::Error) -> EnvelopeError {
        EnvelopeError {
            cause: Some(cause),
            ..EnvelopeError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }

    /// Adds a `details` value (e.g. which field was invalid).
    pub fn with_details(mut self, details: Value) -> EnvelopeError {
        self.details = Some(details);
        self
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Any error that `?` meets in a handler is unexpected, hence internal (as for [`ApiError`]).
impl<E: Into<anyhow::Error>> From<E> for EnvelopeError {
    fn from(err: E) -> EnvelopeError {
        EnvelopeError::internal(err.into())
    }
}

impl From<ApiError> for EnvelopeError {
    fn from(err: ApiError) -> EnvelopeError {
        match err.0 {
            Inner::Client {
                status,
                error,
                message,
                details,
                retry_after,
            } => EnvelopeError {
                status,
                message: message.unwrap_or_else(|| error.into_owned()),
                details,
                retry_after,
                cause: None,
            },
            Inner::Internal(cause) => EnvelopeError::internal(cause),
        }
    }
}

impl IntoResponse for EnvelopeError {
    fn into_response(self) -> Response {
        let mut details = self.details;
        if let Some(cause) = &self.cause {
            let error_id = error_id();
            tracing::error!(%error_id, cause = format!("{cause:#}"), "internal server error");
            details = Some(serde_json::json!({ "error_id": error_id }));
        }
        let body: EnvelopeBody<'_, ()> = EnvelopeBody {
            success: false,
            data: None,
            error: Some(EnvelopeErrorBody {
                message: &self.message,
                status: self.status.as_u16(),
                details: details.as_ref(),
            }),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests;
