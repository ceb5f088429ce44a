//! AI routing: which provider plugin answers a chat route (`mama-bear`, `vertex-garden`).
//!
//! For now every route goes to the first loaded `ai-provider` plugin by id (the bundled
//! offline `local` one unless the operator installed others). [`provider_for_route`] is
//! the single place that decides; routing with per-route bindings and failover replaces
//! its body without touching its callers.

use std::sync::Arc;

use crate::manifest::Kind;
use crate::plugins::LivePlugin;
use crate::state::AppState;

/// The seeds' primary chat route (`POST /api/chat/mama-bear`, Socket.IO `mama_bear_chat`).
pub const MAMA_BEAR: &str = "mama-bear";
/// The seeds' "direct" chat route (`POST /api/chat/vertex-garden/chat`).
pub const VERTEX_GARDEN: &str = "vertex-garden";

/// The provider plugin that answers `route`, or `None` when no provider is loaded.
pub fn provider_for_route(state: &AppState, route: &str) -> Option<Arc<LivePlugin>> {
    let provider = state.plugins.of_kind(Kind::AiProvider).into_iter().next();
    tracing::trace!(
        route,
        provider = provider.as_ref().map(|p| p.id()),
        "chat route"
    );
    provider
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::state;

    #[tokio::test]
    async fn no_route_has_a_provider_when_none_is_loaded() {
        let (state, _db, _dir) = state().await;
        assert!(provider_for_route(&state, MAMA_BEAR).is_none());
        assert!(provider_for_route(&state, VERTEX_GARDEN).is_none());
    }
}
