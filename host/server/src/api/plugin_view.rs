//! How a plugin looks in the API: its marketplace entry (the seed's MCPServer fields)
//! joined with its installation record and its live state.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::manifest::{Kind, Manifest, Permissions};
use crate::state::AppState;

/// One plugin as the API shows it (the seeds' MCPServer fields and the host's).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginView {
    /// Registry id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The registry's version (or the installed one when it is not in the registry).
    pub version: String,
    /// Author.
    pub author: String,
    /// Category.
    pub category: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Downloads.
    pub download_count: u64,
    /// Rating 0-5.
    pub rating: f64,
    /// Last published.
    pub last_updated: String,
    /// Source repository.
    pub repository_url: String,
    /// Documentation.
    pub documentation_url: String,
    /// Plugin kind.
    pub kind: Kind,
    /// WIT API requirement.
    pub api: String,
    /// Whether it is installed.
    pub installed: bool,
    /// Installed version.
    pub installed_version: Option<String>,
    /// Whether it is enabled (installed plugins only).
    pub enabled: Option<bool>,
    /// `loaded`, `failed`, `disabled`, `installed` (on disk, not loaded) or `available`.
    pub state: &'static str,
    /// Why it failed to load.
    pub error: Option<String>,
    /// Whether the registry has a newer version than the installed one.
    pub update_available: bool,
    /// What it asks for.
    pub permissions: Permissions,
    /// What the operator granted.
    pub granted: Option<Permissions>,
    /// What the installed version asks for beyond what was granted, in words: it runs
    /// without these until `POST /api/plugins/{id}/permissions` grants them (a plugin
    /// copied into the plugins directory by hand starts with everything pending).
    pub pending_permissions: Vec<String>,
    /// An update waiting for a permission grant.
    pub pending_update: Option<PendingUpdate>,
    /// Where it came from: `bundled`, `registry` or `disk`.
    pub source: Option<String>,
    /// Tools, for mcp-server plugins that are loaded.
    pub tools: Vec<ToolView>,
    /// Call counters, when loaded.
    pub stats: Option<crate::runtime::StatsSnapshot>,
    /// Its budget as the host enforces it (defaults, the manifest's ask, the operator's
    /// `[budgets.plugin.<id>]`), when installed.
    pub budgets: Option<crate::runtime::budget::Limits>,
}

/// An update of a [`PluginView`] staged until the operator grants what it asks for more.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingUpdate {
    /// The staged version.
    pub version: String,
    /// What it asks for beyond what was granted, in words.
    pub needs: Vec<String>,
}

/// A tool of a loaded mcp-server plugin.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ToolView {
    /// Its name, unique within the plugin.
    pub name: String,
    /// What it does.
    pub description: String,
}

/// Every plugin known to the registry or installed, optionally of one kind, by id.
pub async fn all(state: &AppState, kind: Option<Kind>) -> Result<Vec<PluginView>, ApiError> {
    let mut ids: BTreeSet<String> = state
        .registry
        .entries
        .iter()
        .map(|e| e.manifest.id.clone())
        .collect();
    ids.extend(state.plugins.list().iter().map(|p| p.id().to_string()));
    ids.extend(state.plugins.failures().into_keys());
    ids.extend(state.registry.rejected.iter().map(|r| r.id.clone()));
    let mut views = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(view) = view(state, &id).await?
            && kind.is_none_or(|k| view.kind == k)
        {
            views.push(view);
        }
    }
    Ok(views)
}

/// Plugin `id`, or 404.
pub async fn one(state: &AppState, id: &str) -> Result<PluginView, ApiError> {
    crate::manifest::validate_id(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    view(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("plugin `{id}` not found")))
}

async fn view(state: &AppState, id: &str) -> Result<Option<PluginView>, ApiError> {
    let entry = state.registry.get(id);
    let live = state.plugins.get(id);
    let record = state
        .db
        .install_record(id)
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
    let installed_manifest: Option<Manifest> = live
        .as_ref()
        .map(|l| l.plugin.manifest.clone())
        .or_else(|| crate::plugins::read_manifest(&state.plugins.plugins_dir().join(id)).ok());
    let Some(manifest) = entry
        .map(|e| e.manifest.clone())
        .or_else(|| installed_manifest.clone())
    else {
        return Ok(rejected_view(state, id));
    };
    // What the installed version asks for (a live plugin's manifest holds what it runs with).
    let requested = live
        .as_ref()
        .map(|l| l.requested.clone())
        .or_else(|| installed_manifest.as_ref().map(|m| m.permissions.clone()));
    let pending_permissions = match (&requested, &record) {
        (Some(asked), Some(record)) => asked.exceeds(&record.granted),
        _ => Vec::new(),
    };
    let failure = state.plugins.failures().remove(id);
    let installed = record.is_some() || installed_manifest.is_some();
    let enabled = record.as_ref().map(|r| r.enabled);
    let plugin_state = if live.is_some() {
        "loaded"
    } else if enabled == Some(false) {
        "disabled"
    } else if failure.is_some() {
        "failed"
    } else if installed {
        "installed"
    } else {
        "available"
    };
    let installed_version = record
        .as_ref()
        .map(|r| r.version.clone())
        .or_else(|| installed_manifest.as_ref().map(|m| m.version.to_string()));
    let update_available = match (&installed_version, entry) {
        (Some(v), Some(e)) => semver::Version::parse(v).is_ok_and(|v| e.manifest.version > v),
        _ => false,
    };
    let pending_update = state.installer().pending(id).map(|staged| {
        let granted = record
            .as_ref()
            .map(|r| r.granted.clone())
            .unwrap_or_default();
        PendingUpdate {
            version: staged.version.to_string(),
            needs: staged.permissions.exceeds(&granted),
        }
    });
    let tools = live
        .as_ref()
        .map(|l| {
            l.tools
                .iter()
                .map(|t| ToolView {
                    name: t.name.clone(),
                    description: t.description.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let stats = live.as_ref().map(|l| l.plugin.stats.snapshot());
    let budgets = installed_manifest.as_ref().map(|m| {
        let config = &state.config.budgets;
        crate::runtime::budget::Limits::resolve(
            config.defaults(),
            m.budgets.as_ref(),
            config.plugin.get(id),
        )
    });
    Ok(Some(PluginView {
        id: manifest.id.clone(),
        name: manifest.name.clone(),
        description: manifest.description.clone(),
        version: manifest.version.to_string(),
        author: manifest.author.clone(),
        category: manifest.category.clone(),
        tags: manifest.tags.clone(),
        download_count: manifest.download_count,
        rating: manifest.rating,
        last_updated: manifest.last_updated.clone(),
        repository_url: manifest.repository_url.clone(),
        documentation_url: manifest.documentation_url.clone(),
        kind: manifest.kind,
        api: manifest.api.to_string(),
        installed,
        installed_version,
        enabled,
        state: plugin_state,
        error: failure,
        update_available,
        permissions: match entry {
            Some(_) => manifest.permissions.clone(),
            None => requested.unwrap_or_else(|| manifest.permissions.clone()),
        },
        granted: record.as_ref().map(|r| r.granted.clone()),
        pending_permissions,
        pending_update,
        source: record.map(|r| r.source),
        tools,
        stats,
        budgets,
    }))
}

/// A plugin known only by a failure: a registry entry skipped at start (see
/// [`crate::registry::Registry::load`]) or a plugin directory whose manifest does not
/// validate (e.g. it asks for a reserved name). Shown as `failed` with the reason.
fn rejected_view(state: &AppState, id: &str) -> Option<PluginView> {
    let (kind, error) = match state.registry.rejected.iter().find(|r| r.id == id) {
        Some(rejected) => (
            rejected.kind,
            format!("registry entry skipped: {}", rejected.reason),
        ),
        None => {
            let error = state.plugins.failures().remove(id)?;
            let raw: Option<Value> = std::fs::read_to_string(
                state
                    .plugins
                    .plugins_dir()
                    .join(id)
                    .join(crate::plugins::MANIFEST_FILE),
            )
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
            let kind = raw
                .as_ref()
                .and_then(|m| m.get("kind")?.as_str()?.parse().ok());
            (kind, error)
        }
    };
    Some(PluginView {
        id: id.to_string(),
        name: id.to_string(),
        description: String::new(),
        version: String::new(),
        author: String::new(),
        category: String::new(),
        tags: Vec::new(),
        download_count: 0,
        rating: 0.0,
        last_updated: String::new(),
        repository_url: String::new(),
        documentation_url: String::new(),
        kind: kind.unwrap_or(Kind::McpServer),
        api: String::new(),
        installed: state.plugins.plugins_dir().join(id).is_dir(),
        installed_version: None,
        enabled: None,
        state: "failed",
        error: Some(error),
        update_available: false,
        permissions: Permissions::default(),
        granted: None,
        pending_permissions: Vec::new(),
        pending_update: None,
        source: None,
        tools: Vec::new(),
        stats: None,
        budgets: None,
    })
}
