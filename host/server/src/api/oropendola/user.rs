//! `user.get_info`, `user.get_settings` and `user.update_settings`: who the caller is, and
//! its settings, a JSON object kept per user in the database (`user_settings`, migration
//! 0010). An update merges its keys into what is stored (a `null` value removes a key);
//! the result must stay under `[oropendola] max_settings_bytes`.

use axum::extract::State;
use serde_json::{Map, Value, json};
use sqlx::Row;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Answer, Args, Caller, answer};
use crate::clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Longest settings key.
const MAX_KEY: usize = 128;

/// Deepest nesting of a settings value.
const MAX_DEPTH: usize = 8;

/// `user.get_info`: the caller.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.user.get_info", tag = "oropendola",
    summary = "The caller",
    description = "The caller",
    responses(
        (status = 200, description = "`{message: {name, user_id, full_name, roles}}`", body = Answer<UserInfo>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn get_info(caller: Caller) -> axum::Json<Answer<UserInfo>> {
    answer(UserInfo {
        full_name: caller.name.clone(),
        is_user: caller.is_user,
        name: caller.name.clone(),
        roles: caller.scopes.names(),
        scopes: caller.scopes.names(),
        user_id: caller.id,
        username: caller.name,
    })
}

/// `user.get_info`'s `message` (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    /// The name shown.
    full_name: String,
    /// Whether this is a logged-in user (not a key).
    is_user: bool,
    /// The name shown: the username, the key's name, `Administrator`.
    name: String,
    /// Frappe's roles: the scopes.
    roles: Vec<&'static str>,
    /// What the credential may do.
    scopes: Vec<&'static str>,
    /// A stable id: the user's id, `key:<id>` for an API key, `admin` for the admin key.
    user_id: String,
    /// The name shown.
    username: String,
}

/// The caller's settings (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Settings {
    /// The settings: the client's own keys, each any JSON value (free-form).
    #[schema(value_type = HashMap<String, serde_json::Value>)]
    settings: Value,
    /// `true` after an update (absent on a read).
    #[serde(skip_serializing_if = "Option::is_none")]
    success: Option<bool>,
    /// When they last changed (RFC 3339); `null` when none are stored.
    updated_at: Option<String>,
}

/// `user.get_settings`: the caller's settings (`{}` until some are stored).
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.user.get_settings", tag = "oropendola",
    summary = "The caller's settings",
    description = "The caller's settings",
    responses(
        (status = 200, description = "`{message: {settings, updated_at}}`", body = Answer<Settings>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Answer<Settings>>> {
    let (settings, updated_at) = load(&state.db, &caller.id).await?;
    Ok(answer(Settings {
        settings,
        success: None,
        updated_at,
    }))
}

/// The arguments of `user.update_settings` (a JSON object or a form-encoded body).
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "the schema of the arguments the handler reads from `Args`"
)]
pub struct UpdateSettingsArgs {
    /// The changes: an object of the client's own keys (free-form values; `null` removes
    /// a key), or a string holding one as JSON. Keys have 1 to 128 characters; values
    /// nest at most 8 levels.
    #[schema(value_type = Object)]
    pub settings: Value,
}

/// `user.update_settings {settings}`: merges `settings` (an object, or a string holding
/// one) into the caller's and answers the result.
#[utoipa::path(
    post, path = "/api/method/oropendola.user.update_settings", tag = "oropendola",
    summary = "Merges settings",
    description = "Merges `settings` (an object, or a string holding one) into the caller's",
    request_body(content = UpdateSettingsArgs, description = "`{settings}`: an object, or a string holding one (JSON or form-encoded)", content_type = "application/json"),
    responses(
        (status = 200, description = "`{message: {settings, updated_at}}`", body = Answer<Settings>),
        (status = 400, description = "`settings` missing or not an object", body = crate::api::openapi::FrappeErrorBody),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 413, description = "More than `[oropendola] max_settings_bytes`", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<Settings>>> {
    let changes = match args.json("settings")? {
        Some(Value::Object(changes)) => changes,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "settings must be a JSON object, not {}",
                crate::chat::json_type(&other)
            ))
            .with_details(json!({ "field": "settings" })));
        }
        None => {
            return Err(ApiError::bad_request("settings is required")
                .with_details(json!({ "field": "settings" })));
        }
    };
    for (key, value) in &changes {
        if key.trim().is_empty() || key.chars().count() > MAX_KEY {
            return Err(ApiError::bad_request(format!(
                "settings keys must have 1 to {MAX_KEY} characters"
            )));
        }
        if depth(value) > MAX_DEPTH {
            return Err(ApiError::bad_request(format!(
                "settings.{key} is nested deeper than {MAX_DEPTH} levels"
            )));
        }
    }
    let (Value::Object(mut settings), _) = load(&state.db, &caller.id).await? else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "stored settings are not an object"
        )));
    };
    for (key, value) in changes {
        if value.is_null() {
            settings.remove(&key);
        } else {
            settings.insert(key, value);
        }
    }
    let text = Value::Object(settings.clone()).to_string();
    let cap = state.config.oropendola.max_settings_bytes;
    if text.len() > cap {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "settings would take {} bytes; at most {cap} are kept per user",
                text.len()
            ),
        ));
    }
    let now = clock::timestamp();
    sqlx::query(
        "INSERT INTO user_settings (user_id, settings, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, \
         updated_at = excluded.updated_at",
    )
    .bind(&caller.id)
    .bind(&text)
    .bind(&now)
    .execute(state.db.pool())
    .await
    .map_err(|e| ApiError::internal(e.into()))?;
    Ok(answer(Settings {
        settings: Value::Object(settings),
        success: Some(true),
        updated_at: Some(now),
    }))
}

/// The user's settings and when they changed; `{}` and `null` when none are stored.
async fn load(db: &Db, user: &str) -> ApiResult<(Value, Option<String>)> {
    let row = sqlx::query("SELECT settings, updated_at FROM user_settings WHERE user_id = $1")
        .bind(user)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    let Some(row) = row else {
        return Ok((Value::Object(Map::new()), None));
    };
    let text: String = row
        .try_get("settings")
        .map_err(|e| ApiError::internal(e.into()))?;
    let updated: String = row
        .try_get("updated_at")
        .map_err(|e| ApiError::internal(e.into()))?;
    let settings = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => Value::Object(Map::new()),
    };
    Ok((settings, Some(updated)))
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
