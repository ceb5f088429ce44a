//! `/api/auth/*`: API keys and users (admin only), and session login (seed 004).
//!
//! Keys: `POST /api/auth/keys {name, scopes, expires_at?}` answers the key once;
//! `GET /api/auth/keys` lists them without secrets; `DELETE /api/auth/keys/{id}` revokes.
//! Users: `POST /api/auth/users {username, password, scopes}`, `GET`, `DELETE .../{id}`.
//! Sessions: `POST /api/auth/login` with `{usr, pwd}` (Frappe) or `{username, password}`
//! sets the `sid` cookie; `POST /api/auth/logout` ends it; `GET /api/auth/verify_session`
//! says whether it is live. Login takes a JSON or a form-encoded body and also sets a
//! readable `user_id` cookie (Frappe's). The seed's Frappe paths
//! (`/api/method/oropendola.auth.login`, `.logout`, `.verify_session`) are the same
//! handlers, registered by [`super::oropendola`] with Frappe's error shape.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::plugins::Done;

use crate::auth::principal::UserView;
use crate::auth::sessions::{self, Session};
use crate::auth::{Admin, Scopes, keys, users};
use crate::clock;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;

/// Longest key name accepted.
const MAX_NAME: usize = 128;

/// The same answer for an unknown user and a wrong password.
const BAD_LOGIN: &str = "Invalid login credentials";

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/keys", post(create_key).get(list_keys))
        .route("/api/auth/keys/{id}", delete(revoke_key))
        .route("/api/auth/users", post(create_user).get(list_users))
        .route("/api/auth/users/{id}", delete(delete_user))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/verify_session", get(verify_session))
}

/// Body of `POST /api/auth/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A name for people (1 to 100 characters).
    name: String,
    /// What the key may do: admin, plugins, providers, jobs, cache, read.
    scopes: Vec<String>,
    /// When it stops working (RFC 3339, in the future); never when absent.
    #[serde(default)]
    expires_at: Option<String>,
}

/// `POST /api/auth/keys` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    /// The key's record (no secret).
    api_key: keys::ApiKey,
    /// The secret, shown only now.
    key: String,
    /// What to do with it.
    message: &'static str,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
}

/// `GET /api/auth/keys` answer (fields alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, without secrets.
    keys: Vec<keys::ApiKey>,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// How many.
    total: usize,
}

/// `DELETE /api/auth/keys/{id}` answer (fields alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyRevoked {
    /// The revoked key's record.
    api_key: keys::ApiKey,
    /// What was done.
    message: String,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
}

/// `POST /api/auth/users` answer (fields alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    /// What was done.
    message: String,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// The new user (no password).
    user: users::User,
}

/// `GET /api/auth/users` answer (fields alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// How many.
    total: usize,
    /// Every user (no passwords).
    users: Vec<users::User>,
}

/// A login's answer, with Frappe's fields (alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    /// When the session ends (RFC 3339).
    expires_at: String,
    /// Frappe's `full_name`: the username.
    full_name: String,
    /// Frappe's `home_page`: `/`.
    home_page: &'static str,
    /// `Logged In`.
    message: &'static str,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// Who logged in.
    user: UserView,
    /// Frappe's `user_id`: the username.
    user_id: String,
}

/// `GET /api/auth/verify_session` answer (fields alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionValid {
    /// When the session ends (RFC 3339).
    expires_at: String,
    /// `Session valid`.
    message: &'static str,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// Whose session it is.
    user: UserView,
    /// Always `true`.
    valid: bool,
}

/// Scopes from a request body: known names, at least one.
fn scopes_of(names: &[String]) -> ApiResult<Scopes> {
    let scopes = Scopes::parse(names).map_err(ApiError::bad_request)?;
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "scopes must name at least one of admin, plugins, providers, jobs, cache, read",
        ));
    }
    Ok(scopes)
}

#[utoipa::path(
    post, path = "/api/auth/keys", tag = "auth",
    summary = "Creates an API key {name, scopes, expires_at?}",
    description = "Creates an API key `{name, scopes, expires_at?}`; answers the key once (admin)",
    request_body = NewKey,
    responses(
        (status = 201, description = "`{success, key, api_key}`", body = KeyCreated),
        (status = 400, description = "No name, unknown scopes, or a bad expiry", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn create_key(
    _admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<KeyCreated>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_request(format!(
            "name must have 1 to {MAX_NAME} characters"
        )));
    }
    let scopes = scopes_of(&body.scopes)?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|text| {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "expires_at must be an RFC 3339 time such as 2030-01-01T00:00:00Z: {e}"
                    ))
                })?
                .with_timezone(&Utc);
            if at <= Utc::now() {
                return Err(ApiError::bad_request("expires_at must be in the future"));
            }
            Ok(at)
        })
        .transpose()?;
    let (key, secret) = keys::create(&state.db, name, &scopes, expires_at).await?;
    tracing::info!(key = %key.id, name = %key.name, scopes = %key.scopes, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            api_key: key,
            key: secret,
            message: "API key created; it is shown only now, so store it",
            success: true,
            timestamp: clock::timestamp(),
        }),
    ))
}

#[utoipa::path(
    get, path = "/api/auth/keys", tag = "auth",
    summary = "Lists API keys without their secrets",
    description = "Lists API keys without their secrets: id, name, prefix, scopes, times (admin)",
    responses(
        (status = 200, description = "Done", body = KeyList),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn list_keys(_admin: Admin, State(state): State<AppState>) -> ApiResult<Json<KeyList>> {
    let keys = keys::list(&state.db).await?;
    Ok(Json(KeyList {
        total: keys.len(),
        keys,
        success: true,
        timestamp: clock::timestamp(),
    }))
}

#[utoipa::path(
    delete, path = "/api/auth/keys/{id}", tag = "auth",
    summary = "Revokes an API key",
    description = "Revokes an API key (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "`{success, message, api_key}`", body = KeyRevoked),
        (status = 404, description = "Unknown key", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn revoke_key(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyRevoked>> {
    let key = keys::revoke(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No API key with id {id}")))?;
    tracing::info!(key = %key.id, name = %key.name, "API key revoked");
    Ok(Json(KeyRevoked {
        message: format!("Revoked API key {}", key.name),
        api_key: key,
        success: true,
        timestamp: clock::timestamp(),
    }))
}

/// Body of `POST /api/auth/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The login name.
    username: String,
    /// The password (at least the configured length).
    password: String,
    /// What the user may do: admin, plugins, providers, jobs, cache, read (none by default).
    #[serde(default)]
    scopes: Vec<String>,
}

fn user_error(err: users::Error) -> ApiError {
    match err {
        users::Error::Invalid(message) => ApiError::bad_request(message),
        users::Error::Exists(_) => ApiError::conflict(err.to_string()),
        other => ApiError::internal(other.into()),
    }
}

#[utoipa::path(
    post, path = "/api/auth/users", tag = "auth",
    summary = "Creates a user {username, password, scopes}",
    description = "Creates a user `{username, password, scopes}` (admin)",
    request_body = NewUser,
    responses(
        (status = 201, description = "`{success, user}`", body = UserCreated),
        (status = 400, description = "Bad username, short password or unknown scopes", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The username is taken", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn create_user(
    _admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserCreated>)> {
    // A user without scopes may still log in: to read when reading is closed, to chat
    // when chat is.
    let scopes = Scopes::parse(&body.scopes).map_err(ApiError::bad_request)?;
    let user = users::create(&state.db, body.username.trim(), &body.password, &scopes)
        .await
        .map_err(user_error)?;
    tracing::info!(user = %crate::logsafe::Safe(&user.username), scopes = %user.scopes, "user created");
    Ok((
        StatusCode::CREATED,
        Json(UserCreated {
            message: format!("Created user {}", user.username),
            success: true,
            timestamp: clock::timestamp(),
            user,
        }),
    ))
}

#[utoipa::path(
    get, path = "/api/auth/users", tag = "auth",
    summary = "Lists users",
    description = "Lists users (admin)",
    responses(
        (status = 200, description = "Done", body = UserList),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn list_users(_admin: Admin, State(state): State<AppState>) -> ApiResult<Json<UserList>> {
    let users = users::list(&state.db).await.map_err(user_error)?;
    Ok(Json(UserList {
        success: true,
        timestamp: clock::timestamp(),
        total: users.len(),
        users,
    }))
}

#[utoipa::path(
    delete, path = "/api/auth/users/{id}", tag = "auth",
    summary = "Deletes a user and ends their sessions",
    description = "Deletes a user and ends their sessions (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "`{success, message}`", body = Done),
        (status = 404, description = "Unknown user", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
)]
async fn delete_user(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    if !users::delete(&state.db, &id).await.map_err(user_error)? {
        return Err(ApiError::not_found(format!("No user with id {id}")));
    }
    tracing::info!(user = %id, "user deleted");
    Ok(Json(Done::new("User deleted; their sessions have ended")))
}

/// Body of a login: Frappe's `{usr, pwd}` or `{username, password}`, as JSON or as a
/// form-encoded body.
#[derive(Debug)]
struct Login {
    username: String,
    password: String,
}

impl Login {
    fn from_args(args: &super::oropendola::Args) -> ApiResult<Login> {
        let field = |names: [&str; 2]| -> ApiResult<String> {
            for name in names {
                match args.0.get(name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(text)) => return Ok(text.clone()),
                    Some(_) => {
                        return Err(ApiError::bad_request(format!("{name} must be a string"))
                            .with_details(json!({ "field": name })));
                    }
                }
            }
            Err(
                ApiError::bad_request(format!("{} (or {}) is required", names[0], names[1]))
                    .with_details(json!({ "field": names[0] })),
            )
        };
        Ok(Login {
            username: field(["usr", "username"])?,
            password: field(["pwd", "password"])?,
        })
    }
}

/// The schema of a login's body (read by [`Login::from_args`]): Frappe's `usr` and `pwd`,
/// or `username` and `password` (`usr`/`pwd` win when both are given; other fields are
/// ignored).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "the schema of the body `Login::from_args` reads")]
pub enum LoginBody {
    /// Frappe's names.
    Frappe {
        /// The username.
        usr: String,
        /// The password.
        pwd: String,
    },
    /// The plain names.
    Plain {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
}

/// `Set-Cookie` for Frappe's `user_id` cookie (readable by scripts, like Frappe's).
fn user_id_cookie(
    username: &str,
    ttl: Option<Duration>,
    secure: bool,
) -> Option<header::HeaderValue> {
    let value: String = username
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '\\'))
        .collect();
    let secure = if secure { "; Secure" } else { "" };
    let text = match ttl {
        Some(ttl) => format!(
            "user_id={value}; SameSite=Lax; Path=/; Max-Age={}{secure}",
            ttl.num_seconds()
        ),
        None => format!(
            "user_id=; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{secure}"
        ),
    };
    header::HeaderValue::from_str(&text).ok()
}

fn user_view(session: &Session) -> UserView {
    UserView {
        id: session.user.id.clone(),
        username: session.user.username.clone(),
        scopes: session.user.scopes.clone(),
    }
}

#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    summary = "Logs in with {usr, pwd} or {username, password}",
    description = "Logs in with `{usr, pwd}` or `{username, password}`; sets the `sid` cookie",
    request_body(content = LoginBody, description = "`{usr, pwd}` (Frappe) or `{username, password}`, as JSON or form-encoded", content_type = "application/json"),
    responses(
        (status = 200, description = "`{success, message: \"Logged In\", user: {id, username, scopes}, expires_at}` and the `sid` cookie", body = LoggedIn),
        (status = 400, description = "Neither `{usr, pwd}` nor `{username, password}`", body = crate::api::openapi::ErrorBody),
        (status = 401, description = "Invalid login credentials", body = crate::api::openapi::ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    args: super::oropendola::Args,
) -> ApiResult<Response> {
    let body = Login::from_args(&args)?;
    let user = users::check_password(&state.db, body.username.trim(), &body.password)
        .await
        .map_err(user_error)?;
    let Some(user) = user else {
        tracing::info!(user = %crate::logsafe::Safe(body.username.trim()), "login refused");
        return Err(ApiError::unauthorized(BAD_LOGIN));
    };
    let auth = &state.config.auth;
    // At most ten years: `Duration` has a range, the setting does not.
    let hours = i64::try_from(auth.session_hours.min(87_600)).unwrap_or(87_600);
    let ttl = Duration::hours(hours);
    let (session, token) = sessions::create(&state.db, &user, ttl).await?;
    tracing::info!(user = %crate::logsafe::Safe(&user.username), "logged in");
    let body = LoggedIn {
        expires_at: session.expires_at.clone(),
        full_name: user.username.clone(),
        home_page: "/",
        message: "Logged In",
        success: true,
        timestamp: clock::timestamp(),
        user: user_view(&session),
        user_id: user.username.clone(),
    };
    let cookie = sessions::set_cookie(&token, ttl, auth.secure_cookies);
    let mut response = ([(header::SET_COOKIE, cookie)], Json(body)).into_response();
    if let Some(user_id) = user_id_cookie(&user.username, Some(ttl), auth.secure_cookies) {
        response.headers_mut().append(header::SET_COOKIE, user_id);
    }
    Ok(response)
}

/// The live session of the request's `sid` cookie.
async fn session_of(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Session>> {
    match sessions::cookie(headers) {
        Some(token) => Ok(sessions::resolve(&state.db, token).await?),
        None => Ok(None),
    }
}

#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    summary = "Ends the session of the sid cookie and clears the cookie",
    description = "Ends the session of the `sid` cookie and clears the cookie",
    responses(
        (status = 200, description = "`{success, message}`; the `sid` cookie is cleared", body = Done),
    ),
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let session = session_of(&state, &headers).await?;
    let message = match &session {
        Some(session) => {
            sessions::delete(&state.db, &session.id).await?;
            tracing::info!(user = %crate::logsafe::Safe(&session.user.username), "logged out");
            "Logged Out"
        }
        None => "No session was open",
    };
    let cookie = sessions::clear_cookie(state.config.auth.secure_cookies);
    let body = Done::new(message);
    let mut response = ([(header::SET_COOKIE, cookie)], Json(body)).into_response();
    if let Some(user_id) = user_id_cookie("", None, state.config.auth.secure_cookies) {
        response.headers_mut().append(header::SET_COOKIE, user_id);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/auth/verify_session", tag = "auth",
    summary = "Whether the sid cookie names a live session, and whose",
    description = "Whether the `sid` cookie names a live session, and whose",
    responses(
        (status = 200, description = "`{success, valid: true, user: {id, username, scopes}, expires_at}`", body = SessionValid),
        (status = 401, description = "No live session", body = crate::api::openapi::ErrorBody),
    ),
)]
pub(crate) async fn verify_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<SessionValid>> {
    let session = session_of(&state, &headers).await?.ok_or_else(|| {
        ApiError::unauthorized("No valid session: log in with POST /api/auth/login")
    })?;
    Ok(Json(SessionValid {
        expires_at: session.expires_at.clone(),
        message: "Session valid",
        success: true,
        timestamp: clock::timestamp(),
        user: user_view(&session),
        valid: true,
    }))
}

#[cfg(test)]
mod tests;
