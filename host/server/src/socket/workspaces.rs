//! Workspaces: a workspace is the room `workspace:<workspace_id>`.
//!
//! - `workspace_subscribe {workspace_id}` joins it and answers `workspace_subscribed
//!   {workspace_id, project, watching, timestamp}`; when the id names a scout project, its
//!   directory is watched while anyone is subscribed ([`crate::workspace`]);
//! - `workspace_unsubscribe {workspace_id}` leaves it and answers `workspace_unsubscribed`;
//! - every room gets `workspace_update {workspace_id, type: "plugin", event, id, ...,
//!   timestamp}` on each change of the live plugin set, and a project's room gets
//!   `workspace_update {workspace_id, type: "file", event: "changed", paths, timestamp}`
//!   when files change in its directory.
//!
//! Both come from each node to its own members: every node loads the plugins and watches
//! the directories of its members' workspaces itself, so a cluster-wide broadcast would
//! reach a member once per node.

use std::sync::Arc;

use crate::cluster::socket_bus::Adapter;
use crate::cluster::socket_bus::Io;
use serde_json::{Value, json};
use socketioxide::extract::{SocketRef, State};

use super::events::{Ctx, bad_payload, required_str};
use crate::clock;
use crate::workspace::{OnChange, Workspaces};

/// The room of workspace `id`.
pub fn room(id: &str) -> String {
    format!("workspace:{id}")
}

/// `workspace_subscribe`.
pub async fn subscribe(ctx: &Ctx, data: Value) {
    let id = match required_str(&data, "workspace_id") {
        Ok(id) => id,
        Err(err) => return bad_payload(&ctx.socket, "workspace_subscribe", "{workspace_id}", &err),
    };
    ctx.socket.join(room(id));
    let dir = crate::scout::project_dir(&ctx.state.config, id);
    let subscriber = ctx.socket.id.to_string();
    let (watching, warning) =
        match ctx
            .workspaces
            .subscribe(id, &subscriber, dir.as_deref(), file_notifier(&ctx.io))
        {
            Ok(watching) => (watching, None),
            Err(err) => {
                tracing::warn!(workspace = id, cause = %err, "workspace files are not watched");
                (false, Some(err.to_string()))
            }
        };
    super::emit(
        &ctx.socket,
        "workspace_subscribed",
        &json!({
            "workspace_id": id,
            "project": dir.is_some(),
            "watching": watching,
            "warning": warning,
            "timestamp": clock::timestamp(),
        }),
    );
}

/// `workspace_unsubscribe`.
pub async fn unsubscribe(ctx: &Ctx, data: Value) {
    let id = match required_str(&data, "workspace_id") {
        Ok(id) => id,
        Err(err) => {
            return bad_payload(&ctx.socket, "workspace_unsubscribe", "{workspace_id}", &err);
        }
    };
    ctx.socket.leave(room(id));
    let was_subscribed = ctx.workspaces.unsubscribe(id, &ctx.socket.id.to_string());
    super::emit(
        &ctx.socket,
        "workspace_unsubscribed",
        &json!({
            "workspace_id": id,
            "was_subscribed": was_subscribed,
            "timestamp": clock::timestamp(),
        }),
    );
}

/// A disconnected client no longer keeps any workspace watched.
pub async fn on_disconnect(socket: SocketRef<Adapter>, State(workspaces): State<Arc<Workspaces>>) {
    workspaces.forget(&socket.id.to_string());
}

/// What the file watcher calls: a `workspace_update` to the workspace's room, to this
/// node's members only (every node with a member watches the directory itself). The
/// watcher runs on a thread of its own, hence the hop onto the runtime.
fn file_notifier(io: &Io) -> OnChange {
    let io = io.clone();
    let runtime = tokio::runtime::Handle::current();
    Arc::new(move |id: &str, paths: Vec<String>| {
        let io = io.clone();
        let update = json!({
            "workspace_id": id,
            "type": "file",
            "event": "changed",
            "paths": paths,
            "timestamp": clock::timestamp(),
        });
        let room = room(id);
        runtime.spawn(async move {
            if let Some(ns) = io.of("/") {
                let _ = ns
                    .within(room)
                    .local()
                    .emit("workspace_update", &update)
                    .await;
            }
        });
    })
}

/// Sends a plugin event to every workspace subscribed on this node as `workspace_update`,
/// to this node's members only: every node of a cluster loads the plugin and sends its own.
pub async fn plugin_event(io: &Io, workspaces: &Workspaces, name: &str, payload: &Value) {
    for id in workspaces.ids() {
        let Some(ns) = io.of("/") else { return };
        let mut update = json!({
            "workspace_id": id,
            "type": "plugin",
            "event": name,
        });
        if let (Some(update), Some(fields)) = (update.as_object_mut(), payload.as_object()) {
            for (key, value) in fields {
                update.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        if let Err(err) = ns
            .within(room(&id))
            .local()
            .emit("workspace_update", &update)
            .await
        {
            tracing::debug!(workspace = %id, %err, "workspace update did not reach every client");
        }
    }
}
