//! `/api/plugins`: the marketplace and installation for every plugin kind. Reading is
//! open; install, upload, uninstall, enable, disable and granting permissions need the
//! `plugins` scope (or `admin`). `POST /api/plugins/upload` installs a component that is not in the registry
//! (what `sanctuary plugin install` sends), through the same checks as a registry install.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::plugin_view::{self, PluginView};
use crate::auth::{Require, scope};
use crate::clock;
use crate::error::{ApiError, ApiJson};
use crate::install;
use crate::manifest::{Manifest, Permissions};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/plugins", get(list))
        .route(
            "/api/plugins/upload",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/api/plugins/{id}", get(show).delete(uninstall))
        .route("/api/plugins/{id}/install", post(install))
        .route("/api/plugins/{id}/enable", post(enable))
        .route("/api/plugins/{id}/disable", post(disable))
        .route("/api/plugins/{id}/permissions", post(grant))
}

#[utoipa::path(
    get, path = "/api/plugins", tag = "plugins",
    summary = "Every plugin",
    description = "Every plugin: registry entries and installed ones",
    responses(
        (status = 200, description = "Every plugin: registry entries and installed ones", body = PluginList),
    ),
)]
async fn list(State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    let plugins: Vec<PluginView> = plugin_view::all(&state, None).await?;
    Ok(Json(PluginList {
        total: plugins.len(),
        plugins,
        success: true,
        timestamp: clock::timestamp(),
    }))
}

/// `GET /api/plugins` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// Every plugin.
    plugins: Vec<PluginView>,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// How many.
    total: usize,
}

/// One plugin, and what was done to it (`message`, absent on `GET`); fields alphabetical,
/// as the body always was.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginDone {
    /// What was done.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// The plugin as it is now.
    plugin: PluginView,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
}

impl PluginDone {
    fn new(message: Option<String>, plugin: PluginView) -> Json<PluginDone> {
        Json(PluginDone {
            message,
            plugin,
            success: true,
            timestamp: clock::timestamp(),
        })
    }
}

/// What was done, with no plugin left to show (fields alphabetical, as the body always
/// was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// What was done.
    message: String,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
}

impl Done {
    /// `{message, success: true, timestamp: now}`.
    pub fn new(message: impl Into<String>) -> Done {
        Done {
            message: message.into(),
            success: true,
            timestamp: clock::timestamp(),
        }
    }
}

#[utoipa::path(
    get, path = "/api/plugins/{id}", tag = "plugins",
    summary = "One plugin",
    description = "One plugin",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "The plugin", body = PluginDone),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
)]
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginDone>, ApiError> {
    let view = plugin_view::one(&state, &id).await?;
    Ok(PluginDone::new(None, view))
}

/// Installs (or updates) `id` from the registry. Shared with the MCP marketplace route.
pub async fn install_plugin(state: &AppState, id: &str) -> Result<Json<PluginDone>, ApiError> {
    let done = state.installer().install(id).await.map_err(install_error)?;
    let view = plugin_view::one(state, id).await?;
    let message = match &done.replaced {
        Some(old) if *old != done.version => format!("Updated {id} from {old} to {}", done.version),
        Some(_) => format!("Reinstalled {id} {}", done.version),
        None => format!("Installed {id} {}", done.version),
    };
    Ok(PluginDone::new(Some(message), view))
}

#[utoipa::path(
    post, path = "/api/plugins/{id}/install", tag = "plugins",
    summary = "Installs or updates a plugin from the registry",
    description = "Installs or updates a plugin from the registry (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "Done", body = PluginDone),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn install(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginDone>, ApiError> {
    install_plugin(&state, &id).await
}

/// Query of `DELETE /api/plugins/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UninstallQuery {
    /// Keep the plugin's key-value data (deleted by default, so a plugin installed later
    /// under the same id never reads it).
    #[serde(default)]
    keep_data: bool,
}

#[utoipa::path(
    delete, path = "/api/plugins/{id}", tag = "plugins",
    summary = "Uninstalls a plugin and deletes its key-value data unless ?keep_data=true",
    description = "Uninstalls a plugin and deletes its key-value data unless `?keep_data=true` (admin)",
    params(
        ("id" = String, Path, description = "The id"),
        ("keep_data" = Option<bool>, Query, description = "Keep the plugin's key-value data (default false)"),
    ),
    responses(
        (status = 200, description = "Uninstalled", body = Done),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn uninstall(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<UninstallQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Done>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state
        .installer()
        .uninstall(&id, query.keep_data)
        .await
        .map_err(install_error)?;
    let kept = if query.keep_data {
        " (its data is kept)"
    } else {
        ""
    };
    Ok(Json(Done {
        message: format!("Uninstalled {id}{kept}"),
        success: true,
        timestamp: clock::timestamp(),
    }))
}

#[utoipa::path(
    post, path = "/api/plugins/{id}/enable", tag = "plugins",
    summary = "Enables and loads a plugin",
    description = "Enables and loads a plugin (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "Done", body = PluginDone),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn enable(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginDone>, ApiError> {
    set_enabled(state, id, true).await
}

#[utoipa::path(
    post, path = "/api/plugins/{id}/disable", tag = "plugins",
    summary = "Disables and unloads a plugin",
    description = "Disables and unloads a plugin (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "Done", body = PluginDone),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn disable(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginDone>, ApiError> {
    set_enabled(state, id, false).await
}

async fn set_enabled(
    state: AppState,
    id: String,
    enabled: bool,
) -> Result<Json<PluginDone>, ApiError> {
    state
        .installer()
        .set_enabled(&id, enabled)
        .await
        .map_err(install_error)?;
    let view = plugin_view::one(&state, &id).await?;
    let word = if enabled { "Enabled" } else { "Disabled" };
    Ok(PluginDone::new(Some(format!("{word} {id}")), view))
}

/// Body of a grant: the permissions to grant (as a manifest's `permissions`; a field
/// left out grants nothing, or the default cap), bare or under `permissions`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum GrantBody {
    /// The permissions under `permissions`.
    Wrapped {
        /// The permissions to grant.
        permissions: Permissions,
    },
    /// The permissions, bare.
    Bare(Permissions),
}

#[utoipa::path(
    post, path = "/api/plugins/{id}/permissions", tag = "plugins",
    summary = "Grants a plugin permissions",
    description = "Grants a plugin permissions (admin)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    request_body(content = GrantBody, description = "The permissions to grant (as a manifest's `permissions`), bare or under `permissions`"),
    responses(
        (status = 200, description = "Done", body = PluginDone),
        (status = 404, description = "No such plugin", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A refused grant (a reserved name, a file grant into the host's files), or a plugin that still does not load with what was granted", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn grant(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<Json<PluginDone>, ApiError> {
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
    Ok(PluginDone::new(Some(message), view))
}

/// Largest upload body: a base64 component of about 96 MiB (Python components embed an
/// interpreter) with its manifest. Other routes keep axum's default limit.
pub const UPLOAD_LIMIT: usize = 128 << 20;

/// Body of `POST /api/plugins/upload`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    /// The plugin's manifest, as in `manifest.json`. Read as JSON first and parsed by the
    /// handler, so that a manifest that does not parse answers 422 naming the fault.
    #[schema(value_type = Manifest)]
    manifest: Value,
    /// The component's bytes, base64 (standard alphabet, padded).
    component_base64: String,
}

/// Installs (or updates) an uploaded plugin: verifies its manifest, API requirement,
/// sha256 and signature, loads it, then writes and records it like a registry install.
#[utoipa::path(
    post, path = "/api/plugins/upload", tag = "plugins",
    summary = "Installs or updates an uploaded plugin",
    description = "Installs or updates an uploaded plugin (admin): `{manifest, component_base64}`, checked like a registry install (manifest, API, sha256, signature policy); up to 128 MiB",
    request_body = UploadBody,
    responses(
        (status = 200, description = "Installed", body = PluginDone),
        (status = 400, description = "Not JSON, or the component is not base64", body = crate::api::openapi::ErrorBody),
        (status = 401, description = "No admin key", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "An update that needs permissions not yet granted", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Invalid manifest, incompatible API, sha256 mismatch, refused signature, or a component that does not load", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn upload(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UploadBody>,
) -> Result<Json<PluginDone>, ApiError> {
    use base64::Engine as _;
    let manifest: Manifest = serde_json::from_value(body.manifest).map_err(|e| {
        ApiError::unprocessable(format!("invalid manifest: {e}")).with_error("Invalid manifest")
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.component_base64.trim())
        .map_err(|e| ApiError::bad_request(format!("component_base64 is not base64: {e}")))?;
    let id = manifest.id.clone();
    let done = state
        .installer()
        .install_upload(manifest, &bytes)
        .await
        .map_err(install_error)?;
    let view = plugin_view::one(&state, &id).await?;
    let message = match &done.replaced {
        Some(old) if *old != done.version => {
            format!("Updated {id} from {old} to {} (upload)", done.version)
        }
        Some(_) => format!("Reinstalled {id} {} (upload)", done.version),
        None => format!("Installed {id} {} (upload)", done.version),
    };
    Ok(PluginDone::new(Some(message), view))
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
        E::Signature(_) => ApiError::unprocessable(message).with_error("Signature refused"),
        E::Manifest(_) => ApiError::unprocessable(message).with_error("Invalid manifest"),
        E::Permission(_) => ApiError::unprocessable(message).with_error("Permission refused"),
        E::NeedsGrant { id, version, needs } => ApiError::conflict(message)
            .with_error("Permissions not granted")
            .with_details(json!({ "id": id, "pending_version": version, "needs": needs })),
        E::Unavailable { .. } => ApiError::unavailable(message),
        E::Store(e) => ApiError::internal(e),
        E::Io(io) => ApiError::internal(anyhow::Error::new(io)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use base64::Engine as _;
    use serde_json::{Value, json};

    use crate::api::test_support::{ADMIN_KEY, get, send, state};
    use crate::signing::{self, SignaturesConfig};
    use crate::state::AppState;

    /// The trivial-probe fixture: its component and manifest (as JSON).
    fn fixture() -> (Vec<u8>, Value) {
        let (_, wasm, manifest) = sanctuary_test_artifacts::FIXTURES
            .iter()
            .find(|(dir, _, _)| *dir == "trivial-probe")
            .expect("the trivial-probe fixture is built");
        let bytes = std::fs::read(wasm).expect("component");
        let manifest = std::fs::read_to_string(manifest).expect("manifest");
        (bytes, serde_json::from_str(&manifest).expect("json"))
    }

    fn with_signatures(mut state: AppState, signatures: SignaturesConfig) -> AppState {
        let mut config = (*state.config).clone();
        config.signatures = signatures;
        state.config = Arc::new(config);
        state
    }

    fn trusting(key: &ed25519_dalek::SigningKey, require_signed: bool) -> SignaturesConfig {
        SignaturesConfig {
            trusted_keys: vec![signing::encode_public(&key.verifying_key())],
            require_signed,
        }
    }

    fn upload(manifest: &Value, bytes: &[u8], key: Option<&str>) -> Request<Body> {
        let body = json!({
            "manifest": manifest,
            "component_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        });
        let mut request =
            Request::post("/api/plugins/upload").header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.body(Body::from(body.to_string())).expect("request")
    }

    fn signed(manifest: &Value, key: &ed25519_dalek::SigningKey, bytes: &[u8]) -> Value {
        let mut manifest = manifest.clone();
        manifest["signature"] =
            serde_json::to_value(signing::sign(key, &signing::digest(bytes))).expect("json");
        manifest
    }

    #[tokio::test]
    async fn an_upload_installs_and_loads_the_plugin() {
        let (state, _db, _dir) = state().await;
        let (bytes, manifest) = fixture();
        let app = crate::app(state);
        let (status, _, body) = send(app.clone(), upload(&manifest, &bytes, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

        let (status, _, body) = send(app.clone(), upload(&manifest, &bytes, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["plugin"]["state"], "loaded", "{body}");
        let (_, _, shown) = send(app.clone(), get("/api/plugins/trivial-probe")).await;
        assert_eq!(shown["plugin"]["installed"], true, "{shown}");
        assert_eq!(shown["plugin"]["source"], "upload", "{shown}");
        let (_, _, health) = send(app, get("/health/detailed")).await;
        assert!(health.to_string().contains("trivial-probe"), "{health}");
    }

    #[tokio::test]
    async fn an_upload_whose_sha256_does_not_match_is_refused() {
        let (state, _db, _dir) = state().await;
        let (bytes, mut manifest) = fixture();
        manifest["sha256"] = Value::String("0".repeat(64));
        let (status, _, body) = send(
            crate::app(state),
            upload(&manifest, &bytes, Some(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("sha256 mismatch")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn an_invalid_manifest_or_component_text_is_a_client_error() {
        let (state, _db, _dir) = state().await;
        let (bytes, mut manifest) = fixture();
        let app = crate::app(state);
        manifest["id"] = Value::String("../escape".into());
        let (status, _, body) = send(app.clone(), upload(&manifest, &bytes, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains("`id`")),
            "{body}"
        );

        let request = Request::post("/api/plugins/upload")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(Body::from(
                json!({ "manifest": fixture().1, "component_base64": "%%%" }).to_string(),
            ))
            .expect("request");
        let (status, _, body) = send(app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    #[tokio::test]
    async fn the_signature_policy_refuses_unsigned_unknown_and_bad_signatures() {
        let (state, _db, _dir) = state().await;
        let (bytes, manifest) = fixture();
        let trusted = signing::generate().expect("key");
        let stranger = signing::generate().expect("key");
        let app = crate::app(with_signatures(state, trusting(&trusted, true)));

        let refused = |body: &Value, why: &str| {
            assert_eq!(body["error"], "Signature refused", "{body}");
            assert!(
                body["message"].as_str().is_some_and(|m| m.contains(why)),
                "{why}: {body}"
            );
        };
        let (status, _, body) = send(app.clone(), upload(&manifest, &bytes, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        refused(&body, "not signed");

        let by_stranger = signed(&manifest, &stranger, &bytes);
        let (status, _, body) =
            send(app.clone(), upload(&by_stranger, &bytes, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        refused(&body, "unknown key");

        let of_other_bytes = signed(&manifest, &trusted, b"another component");
        let (status, _, body) = send(
            app.clone(),
            upload(&of_other_bytes, &bytes, Some(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        refused(&body, "bad signature");
        let (_, _, shown) = send(app.clone(), get("/api/plugins/trivial-probe")).await;
        assert_ne!(
            shown["plugin"]["installed"], true,
            "nothing was installed: {shown}"
        );

        let good = signed(&manifest, &trusted, &bytes);
        let (status, _, body) = send(app, upload(&good, &bytes, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["plugin"]["state"], "loaded", "{body}");
    }

    #[tokio::test]
    async fn a_registry_install_checks_the_entrys_signature() {
        let (state, _db, dir) = state().await;
        let (bytes, manifest) = fixture();
        let trusted = signing::generate().expect("key");
        let stranger = signing::generate().expect("key");
        let registry_dir = dir.path().join("registry");
        std::fs::create_dir_all(&registry_dir).expect("mkdir");
        std::fs::write(registry_dir.join("trivial.wasm"), &bytes).expect("write");
        let entry = |key: &ed25519_dalek::SigningKey| {
            let mut m = signed(&manifest, key, &bytes);
            m["component"] = "trivial.wasm".into();
            m["sha256"] = hex::encode(signing::digest(&bytes)).into();
            m
        };
        let registry = |key| {
            let text = json!({ "schema_version": 1, "plugins": [entry(key)] }).to_string();
            Arc::new(
                crate::registry::Registry::parse(&text, Some(&registry_dir)).expect("registry"),
            )
        };
        let install = || {
            Request::post("/api/plugins/trivial-probe/install")
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .body(Body::empty())
                .expect("request")
        };

        let mut by_stranger = with_signatures(state.clone(), trusting(&trusted, false));
        by_stranger.registry = registry(&stranger);
        let (status, _, body) = send(crate::app(by_stranger), install()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown key")),
            "{body}"
        );

        let mut by_trusted = with_signatures(state, trusting(&trusted, true));
        by_trusted.registry = registry(&trusted);
        let (status, _, body) = send(crate::app(by_trusted), install()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["plugin"]["state"], "loaded", "{body}");
    }

    #[tokio::test]
    async fn bundled_plugins_install_when_signatures_are_required() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(with_signatures(
            state,
            SignaturesConfig {
                trusted_keys: Vec::new(),
                require_signed: true,
            },
        ));
        let request = Request::post("/api/plugins/time/install")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(Body::empty())
            .expect("request");
        let (status, _, body) = send(app, request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
