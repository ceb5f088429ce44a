//! `user.get_info`, `user.get_settings` and `user.update_settings`: who the caller is, and
//! its settings, a JSON object kept per user in the database (`user_settings`, migration
//! 0010). An update merges its keys into what is stored (a `null` value removes a key);
//! the result must stay under `[oropendola] max_settings_bytes`.

use axum::extract::State;
use serde_json::{Map, Value, json};
use sqlx::Row;

use super::{Args, Caller, answer};
use crate::clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Longest settings key.
const MAX_KEY: usize = 128;

/// Deepest nesting of a settings value.
const MAX_DEPTH: usize = 8;

/// `user.get_info`: the caller.
pub async fn get_info(caller: Caller) -> axum::Json<Value> {
    answer(json!({
        "name": caller.name,
        "user_id": caller.id,
        "full_name": caller.name,
        "username": caller.name,
        "is_user": caller.is_user,
        "roles": caller.scopes.names(),
        "scopes": caller.scopes.names(),
    }))
}

/// `user.get_settings`: the caller's settings (`{}` until some are stored).
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Value>> {
    let (settings, updated_at) = load(&state.db, &caller.id).await?;
    Ok(answer(json!({
        "settings": settings,
        "updated_at": updated_at,
    })))
}

/// `user.update_settings {settings}`: merges `settings` (an object, or a string holding
/// one) into the caller's and answers the result.
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Value>> {
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
    Ok(answer(json!({
        "settings": settings,
        "updated_at": now,
        "success": true,
    })))
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
