//! Applies the [`Event`]s other nodes publish to this node's state: job events reach this
//! node's listeners (and wake or stop its workers), cache clears and invalidations empty
//! this node's cache, route changes reread the stored bindings, plugin changes reconcile
//! the live set with the database.

use tokio::sync::broadcast::error::RecvError;

use super::Event;
use crate::state::AppState;

/// Follows the other nodes' events for as long as the runtime runs; nothing without Redis.
pub fn spawn(state: AppState) {
    if !state.cluster.is_shared() {
        return;
    }
    let mut events = state.cluster.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => apply(&state, event).await,
                Err(RecvError::Lagged(missed)) => {
                    // What was missed cannot be known: catch up on what can be reread.
                    tracing::warn!(
                        missed,
                        "fell behind the other nodes' events; rereading routes and clearing the chat cache"
                    );
                    reload_routes(&state).await;
                    state.chat.cache.clear();
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// Applies one event.
pub async fn apply(state: &AppState, event: Event) {
    match event {
        Event::Job { event } => state.jobs.follow(*event),
        Event::CacheCleared => {
            let cleared = state.chat.cache.clear();
            tracing::info!(cleared, "response cache cleared on another node");
        }
        Event::CacheInvalidated { route, key } => {
            let mut invalidated = 0;
            if let Some(route) = &route {
                invalidated += state.chat.cache.invalidate_route(route);
            }
            if let Some(key) = &key {
                invalidated += state.chat.cache.invalidate_key(key);
            }
            tracing::info!(
                ?route,
                ?key,
                invalidated,
                "response cache invalidated on another node"
            );
        }
        Event::RoutesChanged => reload_routes(state).await,
        Event::PluginsChanged { plugin } => {
            state.plugins.follow(&plugin).await;
        }
    }
}

async fn reload_routes(state: &AppState) {
    match crate::providers::load_stored(&state.chat.providers, &state.db).await {
        Ok(changes) => {
            for change in changes {
                tracing::info!(change = %change, "chat route changed on another node");
            }
        }
        Err(err) => {
            tracing::warn!(cause = %err, "could not reread the chat routes another node changed")
        }
    }
}
