//! `msgprint` `{message, level, timestamp}`: operator notices to every client (the seeds'
//! Frappe-style notifications), e.g. when a plugin is installed, updated or fails to load.

use crate::cluster::socket_bus::Io;
use serde_json::json;

use crate::clock;
use crate::plugins::PluginEvent;

/// Levels a notice may have.
pub const LEVELS: [&str; 4] = ["info", "success", "warning", "error"];

/// Sends `msgprint {message, level, timestamp}` to every client connected to this node (a
/// notice is about this node; every node sends its own). A level outside [`LEVELS`] is
/// sent as `info`.
pub async fn msgprint(io: &Io, message: &str, level: &str) {
    let level = if LEVELS.contains(&level) {
        level
    } else {
        "info"
    };
    let Some(clients) = io.of("/").map(|ns| ns.local()) else {
        return;
    };
    let notice = json!({ "message": message, "level": level, "timestamp": clock::timestamp() });
    if let Err(err) = clients.emit("msgprint", &notice).await {
        tracing::debug!(%err, "msgprint did not reach every client");
    }
}

/// The operator notice for a plugin event: its text and level.
pub fn plugin_notice(event: &PluginEvent) -> (String, &'static str) {
    match event {
        PluginEvent::PluginLoaded {
            id,
            version,
            replaced: None,
            ..
        } => (format!("Plugin {id} {version} loaded"), "info"),
        PluginEvent::PluginLoaded {
            id,
            version,
            replaced: Some(old),
            ..
        } if old == version => (format!("Plugin {id} {version} reloaded"), "info"),
        PluginEvent::PluginLoaded {
            id,
            version,
            replaced: Some(old),
            ..
        } => (
            format!("Plugin {id} updated from {old} to {version}"),
            "info",
        ),
        PluginEvent::PluginUnloaded { id } => (format!("Plugin {id} unloaded"), "info"),
        PluginEvent::PluginError { id, error } => {
            (format!("Plugin {id} failed to load: {error}"), "error")
        }
    }
}
