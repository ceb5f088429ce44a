//! `/api/plugins`: the marketplace and installation for every plugin kind. Reading is
//! open; install, uninstall, enable, disable and granting permissions need the admin key.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::plugin_view::{self, PluginView};
use crate::auth::Admin;
use crate::clock;
use crate::error::{ApiError, ApiJson};
use crate::install;
use crate::manifest::Permissions;
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/plugins", get(list))
        .route("/api/plugins/{id}", get(show).delete(uninstall))
        .route("/api/plugins/{id}/install", post(install))
        .route("/api/plugins/{id}/enable", post(enable))
        .route("/api/plugins/{id}/disable", post(disable))
        .route("/api/plugins/{id}/permissions", post(grant))
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let plugins: Vec<PluginView> = plugin_view::all(&state, None).await?;
    Ok(Json(json!({
        "success": true,
        "plugins": plugins,
        "total": plugins.len(),
        "timestamp": clock::timestamp(),
    })))
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = plugin_view::one(&state, &id).await?;
    Ok(Json(
        json!({ "success": true, "plugin": view, "timestamp": clock::timestamp() }),
    ))
}

/// Installs (or updates) `id` from the registry. Shared with the MCP marketplace route.
pub async fn install_plugin(state: &AppState, id: &str) -> Result<Json<Value>, ApiError> {
    let done = state.installer().install(id).await.map_err(install_error)?;
    let view = plugin_view::one(state, id).await?;
    let message = match &done.replaced {
        Some(old) if *old != done.version => format!("Updated {id} from {old} to {}", done.version),
        Some(_) => format!("Reinstalled {id} {}", done.version),
        None => format!("Installed {id} {}", done.version),
    };
    Ok(Json(json!({
        "success": true,
        "message": message,
        "plugin": view,
        "timestamp": clock::timestamp(),
    })))
}

async fn install(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    install_plugin(&state, &id).await
}

async fn uninstall(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .installer()
        .uninstall(&id)
        .await
        .map_err(install_error)?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Uninstalled {id}"),
        "timestamp": clock::timestamp(),
    })))
}

async fn enable(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, id, true).await
}

async fn disable(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, id, false).await
}

async fn set_enabled(state: AppState, id: String, enabled: bool) -> Result<Json<Value>, ApiError> {
    state
        .installer()
        .set_enabled(&id, enabled)
        .await
        .map_err(install_error)?;
    let view = plugin_view::one(&state, &id).await?;
    let word = if enabled { "Enabled" } else { "Disabled" };
    Ok(Json(json!({
        "success": true,
        "message": format!("{word} {id}"),
        "plugin": view,
        "timestamp": clock::timestamp(),
    })))
}

/// Body of a grant: the permissions, bare or under `permissions`.
#[derive(Deserialize)]
#[serde(untagged)]
enum GrantBody {
    Wrapped { permissions: Permissions },
    Bare(Permissions),
}

async fn grant(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<Json<Value>, ApiError> {
    let granted = match body {
        GrantBody::Wrapped { permissions } | GrantBody::Bare(permissions) => permissions,
    };
    let applied = state
        .installer()
        .grant(&id, granted)
        .await
        .map_err(install_error)?;
    let view = plugin_view::one(&state, &id).await?;
    let message = match applied {
        Some(done) => format!("Granted; {id} updated to {}", done.version),
        None => format!("Granted permissions to {id}"),
    };
    Ok(Json(json!({
        "success": true,
        "message": message,
        "plugin": view,
        "timestamp": clock::timestamp(),
    })))
}

/// Maps an installation failure to its status and the seeds' error body.
pub fn install_error(e: install::Error) -> ApiError {
    use install::Error as E;
    let message = e.to_string();
    match e {
        E::NotFound(_) => ApiError::not_found(message),
        E::BadId(_) => ApiError::bad_request(message),
        E::Incompatible(_) => {
            ApiError::unprocessable(message).with_error("Incompatible API version")
        }
        E::Checksum { .. } => ApiError::unprocessable(message).with_error("Checksum mismatch"),
        E::Load(_) => ApiError::unprocessable(message).with_error("Plugin failed to load"),
        E::NeedsGrant { id, version, needs } => ApiError::conflict(message)
            .with_error("Permissions not granted")
            .with_details(json!({ "id": id, "pending_version": version, "needs": needs })),
        E::Unavailable { .. } => ApiError::unavailable(message),
        E::Db(db) => ApiError::internal(anyhow::Error::new(db)),
        E::Io(io) => ApiError::internal(anyhow::Error::new(io)),
    }
}
