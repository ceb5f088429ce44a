//! The Oropendola method surface (seed 004), Frappe's conventions on
//! `/api/method/<dotted.path>`: arguments come from the query string and from a JSON or
//! form-encoded body ([`Args`]); a method's answer is under `message`; a failure is
//! `{exc_type, exception, message, _server_messages}` with the HTTP status of the error
//! ([`frappe_errors`] rewrites every error answer of these routes into that shape). The
//! caller is the `sid` session cookie's user (or an API key / the admin key) ([`Caller`]).
//!
//! Every method is served by what Sanctuary already has: `auth.*` by [`super::auth`],
//! `chat.*` by the chat routes ([`crate::chat`]), `workspace.*` by the bundled
//! `filesystem` and `memory` plugins, `files.analyze` by a chat route. Plans
//! (`subscription.*`, [`plans`]) limit requests a minute and chat calls a day per user.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::auth::principal::{self, Kind, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) mod chat;
pub(crate) mod files;
pub mod plans;
pub(crate) mod user;
pub(crate) mod workspace;

/// The prefix of every Oropendola method.
pub const PREFIX: &str = "/api/method/oropendola.";

/// Routes of this module (the `auth.*` methods are [`super::auth`]'s handlers).
pub fn routes(state: &AppState) -> Router<AppState> {
    let budgets = plans::Budgets::new(&state.config);
    let methods = Router::new()
        .route(
            &method("chat.send_message"),
            axum::routing::post(chat::send_message),
        )
        .route(&method("chat.stream"), get(chat::stream).post(chat::stream))
        .route(
            &method("chat.get_history"),
            get(chat::get_history).post(chat::get_history),
        )
        .route(
            &method("user.get_info"),
            get(user::get_info).post(user::get_info),
        )
        .route(
            &method("user.get_settings"),
            get(user::get_settings).post(user::get_settings),
        )
        .route(
            &method("user.update_settings"),
            axum::routing::post(user::update_settings),
        )
        .route(
            &method("subscription.check"),
            get(plans::check).post(plans::check),
        )
        .route(
            &method("subscription.get_info"),
            get(plans::get_info).post(plans::get_info),
        )
        .route(
            &method("workspace.index"),
            axum::routing::post(workspace::index),
        )
        .route(
            &method("workspace.search"),
            get(workspace::search).post(workspace::search),
        )
        .route(
            &method("workspace.get_memory"),
            get(workspace::get_memory).post(workspace::get_memory),
        )
        .route(
            &method("files.upload"),
            axum::routing::post(files::upload).layer(axum::extract::DefaultBodyLimit::max(
                state.config.oropendola.max_upload_bytes + 64 * 1024,
            )),
        )
        .route(
            &method("files.analyze"),
            axum::routing::post(files::analyze),
        )
        // Plans are enforced per user on every method but `auth.*` and `ping`.
        .layer(axum::middleware::from_fn_with_state(
            plans::Enforcer {
                budgets: budgets.clone(),
                state: state.clone(),
            },
            plans::enforce,
        ))
        .layer(axum::Extension(budgets));
    Router::new()
        .route("/api/method/ping", get(ping).post(ping))
        .route(
            &method("auth.login"),
            axum::routing::post(super::auth::login),
        )
        .route(
            &method("auth.logout"),
            axum::routing::post(super::auth::logout),
        )
        .route(
            &method("auth.verify_session"),
            get(super::auth::verify_session).post(super::auth::verify_session),
        )
        .merge(methods)
        .layer(axum::middleware::map_response(frappe_errors))
}

fn method(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// `/api/method/ping`: Frappe's liveness check, `{"message": "pong"}`.
#[utoipa::path(
    method(get, post), path = "/api/method/ping", tag = "oropendola",
    summary = "Frappe's liveness check",
    description = "Frappe's liveness check: `{message: \"pong\"}`",
    responses(
        (status = 200, description = "`{message: \"pong\"}`", body = Answer<String>),
    ),
)]
async fn ping() -> axum::Json<Answer<&'static str>> {
    answer("pong")
}

/// A method's answer, as Frappe gives it: `{"message": value}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answer<T> {
    /// The method's result.
    pub message: T,
}

/// A method's answer: `{"message": value}`.
pub fn answer<T: Serialize>(value: T) -> axum::Json<Answer<T>> {
    axum::Json(Answer { message: value })
}

/// Frappe's exception type for an HTTP status.
pub fn exc_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "AuthenticationError",
        403 => "PermissionError",
        404 => "DoesNotExistError",
        405 => "MethodNotAllowed",
        409 => "DuplicateEntryError",
        413 => "FileSizeError",
        429 => "RateLimitExceededError",
        400..=499 => "ValidationError",
        503 => "ServiceUnavailableError",
        _ => "Exception",
    }
}

/// The Frappe error body for `status` and `message`.
pub fn frappe_error_body(status: StatusCode, message: &str) -> Value {
    let exc_type = exc_type(status);
    let server_message = json!({ "message": message, "indicator": "red", "title": exc_type });
    json!({
        "exc_type": exc_type,
        "exception": format!("frappe.exceptions.{exc_type}: {message}"),
        "message": message,
        "_server_messages": json!([server_message.to_string()]).to_string(),
    })
}

/// Rewrites an error answer in the seeds' body (`{success:false, error, message}`) into
/// Frappe's, keeping the status and headers (`Retry-After`, `Set-Cookie`).
pub async fn frappe_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let message = match parsed.as_ref() {
        Some(value) if value.get("exc_type").is_some() => {
            return Response::from_parts(parts, Body::from(bytes));
        }
        Some(value) => value
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| value.get("error").and_then(Value::as_str))
            .map(str::to_owned),
        None => None,
    }
    .unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("Error").to_owned()
        } else {
            text
        }
    });
    let body = frappe_error_body(status, &message).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// A method's arguments: the query string, then the body's fields (a JSON object or a
/// form-encoded body) over them. Form values are strings.
#[derive(Debug, Clone, Default)]
pub struct Args(pub Map<String, Value>);

/// Largest body [`Args`] reads.
const MAX_ARGS_BYTES: usize = 2 << 20;

impl FromRequest<AppState> for Args {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &AppState) -> Result<Args, ApiError> {
        let mut fields = Map::new();
        if let Some(query) = request.uri().query() {
            for (key, value) in form_pairs(query.as_bytes()) {
                fields.insert(key, Value::String(value));
            }
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if request.method() == Method::GET || request.method() == Method::HEAD {
            return Ok(Args(fields));
        }
        let bytes = to_bytes(request.into_body(), MAX_ARGS_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than {MAX_ARGS_BYTES} bytes"),
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Args(fields));
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            for (key, value) in form_pairs(&bytes) {
                fields.insert(key, Value::String(value));
            }
        } else if content_type.starts_with("application/json") || content_type.is_empty() {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(body)) => fields.extend(body),
                Ok(other) => {
                    return Err(ApiError::bad_request(format!(
                        "The body must be a JSON object of arguments, not {}",
                        crate::chat::json_type(&other)
                    )));
                }
                Err(err) => {
                    return Err(ApiError::bad_request(format!(
                        "The body is not valid JSON: {err}"
                    )));
                }
            }
        } else {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Send arguments as application/json or application/x-www-form-urlencoded, not {content_type}"
                ),
            ));
        }
        Ok(Args(fields))
    }
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}

impl Args {
    /// A string argument, when present and not empty.
    pub fn text(&self, name: &str) -> ApiResult<Option<String>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(ApiError::bad_request(format!(
                "{name} must be a string, not {}",
                crate::chat::json_type(other)
            ))
            .with_details(json!({ "field": name }))),
        }
    }

    /// A required string argument.
    pub fn required(&self, name: &str) -> ApiResult<String> {
        self.text(name)?.ok_or_else(|| {
            ApiError::bad_request(format!("{name} is required"))
                .with_details(json!({ "field": name }))
        })
    }

    /// A whole-number argument within `min..=max`, `default` when absent.
    pub fn number(&self, name: &str, default: u64, min: u64, max: u64) -> ApiResult<u64> {
        let value = match self.0.get(name) {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(text)) => text.trim().parse().ok(),
            Some(_) => None,
        };
        value.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be a whole number from {min} to {max}"))
                .with_details(json!({ "field": name }))
        })
    }

    /// A JSON argument: a JSON value, or (as Frappe forms send them) a string holding JSON.
    pub fn json(&self, name: &str) -> ApiResult<Option<Value>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text).map(Some).map_err(|err| {
                ApiError::bad_request(format!("{name} is not valid JSON: {err}"))
                    .with_details(json!({ "field": name }))
            }),
            Some(other) => Ok(Some(other.clone())),
        }
    }
}

/// Who calls a method: the `sid` session's user, or an API key or the admin key. Methods
/// other than `ping` and `auth.*` need one (Frappe's methods are not `allow_guest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// A stable id: the user's id, `key:<id>` for an API key, `admin` for the admin key.
    pub id: String,
    /// The name shown: the username, the key's name, `Administrator`.
    pub name: String,
    /// Whether this is a logged-in user (not a key).
    pub is_user: bool,
    /// What the credential may do.
    pub scopes: crate::auth::Scopes,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let resolved = principal::resolved(parts, state).await;
        let principal =
            resolved.require_any("Not logged in: log in with /api/method/oropendola.auth.login")?;
        Ok(caller_of(principal))
    }
}

/// The caller a credential stands for.
pub fn caller_of(principal: &Principal) -> Caller {
    let (id, name, is_user) = match &principal.kind {
        Kind::AdminKey => ("admin".to_owned(), "Administrator".to_owned(), false),
        Kind::ApiKey { id, name } => (format!("key:{id}"), name.clone(), false),
        Kind::Session(session) => (session.user.id.clone(), session.user.username.clone(), true),
    };
    Caller {
        id,
        name,
        is_user,
        scopes: principal.scopes.clone(),
    }
}
