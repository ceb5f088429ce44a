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
use serde::Deserialize;
use serde_json::{Value, json};

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
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

async fn create_key(
    _admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(json!({
            "success": true,
            "message": "API key created; it is shown only now, so store it",
            "key": secret,
            "api_key": key,
            "timestamp": clock::timestamp(),
        })),
    ))
}

async fn list_keys(_admin: Admin, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let keys = keys::list(&state.db).await?;
    Ok(Json(json!({
        "success": true,
        "keys": keys,
        "total": keys.len(),
        "timestamp": clock::timestamp(),
    })))
}

async fn revoke_key(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = keys::revoke(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No API key with id {id}")))?;
    tracing::info!(key = %key.id, name = %key.name, "API key revoked");
    Ok(Json(json!({
        "success": true,
        "message": format!("Revoked API key {}", key.name),
        "api_key": key,
        "timestamp": clock::timestamp(),
    })))
}

/// Body of `POST /api/auth/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
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

async fn create_user(
    _admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // A user without scopes may still log in: to read when reading is closed, to chat
    // when chat is.
    let scopes = Scopes::parse(&body.scopes).map_err(ApiError::bad_request)?;
    let user = users::create(&state.db, body.username.trim(), &body.password, &scopes)
        .await
        .map_err(user_error)?;
    tracing::info!(user = %crate::logsafe::Safe(&user.username), scopes = %user.scopes, "user created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "success": true,
            "message": format!("Created user {}", user.username),
            "user": user,
            "timestamp": clock::timestamp(),
        })),
    ))
}

async fn list_users(_admin: Admin, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let users = users::list(&state.db).await.map_err(user_error)?;
    Ok(Json(json!({
        "success": true,
        "users": users,
        "total": users.len(),
        "timestamp": clock::timestamp(),
    })))
}

async fn delete_user(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if !users::delete(&state.db, &id).await.map_err(user_error)? {
        return Err(ApiError::not_found(format!("No user with id {id}")));
    }
    tracing::info!(user = %id, "user deleted");
    Ok(Json(json!({
        "success": true,
        "message": "User deleted; their sessions have ended",
        "timestamp": clock::timestamp(),
    })))
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
    let body = json!({
        "success": true,
        "message": "Logged In",
        "full_name": user.username,
        "home_page": "/",
        "user_id": user.username,
        "user": user_view(&session),
        "expires_at": session.expires_at,
        "timestamp": clock::timestamp(),
    });
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
    let body = json!({ "success": true, "message": message, "timestamp": clock::timestamp() });
    let mut response = ([(header::SET_COOKIE, cookie)], Json(body)).into_response();
    if let Some(user_id) = user_id_cookie("", None, state.config.auth.secure_cookies) {
        response.headers_mut().append(header::SET_COOKIE, user_id);
    }
    Ok(response)
}

pub(crate) async fn verify_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let session = session_of(&state, &headers).await?.ok_or_else(|| {
        ApiError::unauthorized("No valid session: log in with POST /api/auth/login")
    })?;
    Ok(Json(json!({
        "success": true,
        "valid": true,
        "message": "Session valid",
        "user": user_view(&session),
        "expires_at": session.expires_at,
        "timestamp": clock::timestamp(),
    })))
}

#[cfg(test)]
mod tests;
