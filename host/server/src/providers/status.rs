//! What `GET /api/providers` shows (seed 003's status endpoint): every route with its
//! chain, which provider would serve it now and why, how its last call went and who
//! actually answered its recent calls; every provider with whether it is configured (key
//! or endpoint), its breaker, call figures and the routes that use it.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::breaker::{Admission, BreakerView};
use super::served::ServedView;
use super::{Outcome, Route, Source, configured, loaded_provider};
use crate::manifest::Kind;
use crate::state::AppState;

/// The whole status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersView {
    /// Always `true`.
    pub success: bool,
    /// Every route, by name.
    pub routes: Vec<RouteView>,
    /// Every provider that is loaded or named by a route, by id.
    pub providers: Vec<ProviderView>,
    /// The breaker settings in force.
    pub breaker: BreakerSettings,
    /// The node answering: breakers, last outcomes and call figures are each node's own
    /// (routes, bindings and installs are the same on every node of one database).
    pub node: String,
    /// When this was computed (RFC 3339).
    pub timestamp: String,
}

/// `[breaker]` as in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakerSettings {
    /// Consecutive failures that open a breaker.
    pub failures: u32,
    /// How long it stays open before a probe call.
    pub open_ms: u64,
    /// `node`: each node keeps its own breakers (a provider failing on one node is not
    /// shut off on the others).
    pub scope: &'static str,
}

/// One route.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteView {
    /// Its name (`mama-bear`, ...).
    pub name: String,
    /// `default`, `config` or `api`.
    pub source: Source,
    /// The chain, each link with its current standing.
    pub chain: Vec<LinkView>,
    /// Cap on each provider call.
    pub timeout_ms: u64,
    /// Extra attempts on one provider.
    pub retries: u32,
    /// First retry delay.
    pub backoff_ms: u64,
    /// The provider the next call would go to first (none: no provider is available).
    pub serving: Option<String>,
    /// The model it would be asked for (none: its default).
    pub model: Option<String>,
    /// Why that one: `first in chain`, or why the ones before it are passed over.
    pub reason: String,
    /// How the last call on this route went.
    pub last: Option<Outcome>,
    /// Who actually answered its recent calls (after failovers), and when last.
    pub served: ServedView,
}

/// One link of a chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// Provider plugin id.
    pub provider: String,
    /// Model asked for (none: the provider's default).
    pub model: Option<String>,
    /// The feature flag.
    pub enabled: bool,
    /// `ready`, `probe` (breaker half-open: the next call decides), `not-configured`
    /// (loaded, but without the API key or endpoint it needs: calls go to it and fail),
    /// `breaker-open`, `not-loaded`, `not-a-provider` or `disabled`.
    pub status: String,
    /// Details of a status other than `ready`.
    pub detail: Option<String>,
}

/// One provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Plugin id.
    pub id: String,
    /// Display name (from the provider itself, when loaded).
    pub name: Option<String>,
    /// Whether it is loaded.
    pub loaded: bool,
    /// Whether it has the API key or endpoint it needs (none: not loaded).
    pub configured: Option<bool>,
    /// What it is missing, when it is not configured.
    pub configuration: Option<String>,
    /// Version loaded.
    pub version: Option<String>,
    /// Models it offers.
    pub models: Vec<String>,
    /// The model used when a request names none.
    pub default_model: Option<String>,
    /// Whether it answers without network access.
    pub offline: Option<bool>,
    /// Its circuit breaker.
    pub breaker: BreakerView,
    /// Calls made, failed, timed out, crashed; mean time.
    pub calls: Option<crate::runtime::StatsSnapshot>,
    /// Routes whose chain names it.
    pub routes: Vec<String>,
}

/// The status of every route and provider now.
pub fn view(state: &AppState) -> ProvidersView {
    let table = state.chat.providers.table();
    let routes: Vec<RouteView> = table.iter().map(|r| route_view(state, r)).collect();

    let mut used_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for route in table.iter() {
        for entry in &route.chain {
            let names = used_by.entry(entry.provider.clone()).or_default();
            if !names.contains(&route.name) {
                names.push(route.name.clone());
            }
        }
    }
    for live in state.plugins.of_kind(Kind::AiProvider) {
        used_by.entry(live.id().to_string()).or_default();
    }
    let breakers = state.chat.providers.breakers();
    let providers = used_by
        .into_iter()
        .map(|(id, routes)| {
            let live = loaded_provider(&state.plugins, &id);
            let info = live.as_ref().and_then(|l| l.provider.as_ref());
            let missing = live.as_ref().and_then(|l| configured::missing(state, l));
            ProviderView {
                configured: live.as_ref().map(|_| missing.is_none()),
                configuration: missing,
                name: info.map(|i| i.name.clone()),
                loaded: live.is_some(),
                version: live.as_ref().map(|l| l.plugin.manifest.version.to_string()),
                models: info.map(|i| i.models.clone()).unwrap_or_default(),
                default_model: info.map(|i| i.default_model.clone()),
                offline: info.map(|i| i.offline),
                breaker: breakers.view(&id),
                calls: live.as_ref().map(|l| l.plugin.stats.snapshot()),
                routes,
                id,
            }
        })
        .collect();
    let settings = breakers.settings();
    ProvidersView {
        success: true,
        routes,
        providers,
        breaker: BreakerSettings {
            failures: settings.failures,
            open_ms: settings.open_ms,
            scope: "node",
        },
        node: state.cluster.node().to_owned(),
        timestamp: crate::clock::timestamp(),
    }
}

/// One route's view: each link's standing and the first one a call would try.
pub fn route_view(state: &AppState, route: &Route) -> RouteView {
    let breakers = state.chat.providers.breakers();
    let mut chain = Vec::new();
    let mut passed_over = Vec::new();
    let mut unconfigured: Option<String> = None;
    let mut serving: Option<(String, Option<String>, bool)> = None;
    for entry in &route.chain {
        let (status, detail) = if !entry.enabled {
            ("disabled", Some("disabled by flag".to_string()))
        } else if state.plugins.get(&entry.provider).is_none() {
            ("not-loaded", Some("not loaded".to_string()))
        } else if loaded_provider(&state.plugins, &entry.provider).is_none() {
            (
                "not-a-provider",
                Some("not an ai-provider plugin".to_string()),
            )
        } else {
            let missing = loaded_provider(&state.plugins, &entry.provider)
                .and_then(|live| configured::missing(state, &live));
            match breakers.check(&entry.provider) {
                Ok(Admission::Normal) => match missing {
                    Some(why) => ("not-configured", Some(format!("not configured: {why}"))),
                    None => ("ready", None),
                },
                Ok(Admission::Probe) => (
                    "probe",
                    Some("breaker half-open: the next call is a probe".to_string()),
                ),
                Err(refusal) => ("breaker-open", Some(refusal.to_string())),
            }
        };
        // A provider that is not configured is still called (and fails over).
        let usable = matches!(status, "ready" | "probe" | "not-configured");
        if usable && serving.is_none() {
            if let Some(detail) = detail.as_ref().filter(|_| status == "not-configured") {
                unconfigured = Some(format!("{} is {detail}, so its calls fail", entry.provider));
            }
            serving = Some((
                entry.provider.clone(),
                entry.model.clone(),
                status == "probe",
            ));
        } else if serving.is_none()
            && let Some(detail) = &detail
        {
            passed_over.push(format!("{} {detail}", entry.provider));
        }
        chain.push(LinkView {
            provider: entry.provider.clone(),
            model: entry.model.clone(),
            enabled: entry.enabled,
            status: status.to_string(),
            detail,
        });
    }
    let reason = match &serving {
        Some((_, _, probe)) if passed_over.is_empty() => {
            if *probe {
                "first in chain (breaker half-open: this call is the probe)".to_string()
            } else {
                "first healthy in chain".to_string()
            }
        }
        Some((provider, _, _)) => {
            format!("{}; next in chain: {provider}", passed_over.join("; "))
        }
        None if passed_over.is_empty() => "the chain is empty".to_string(),
        None => format!("no provider available: {}", passed_over.join("; ")),
    };
    let (serving, model) = match serving {
        Some((provider, model, _)) => (Some(provider), model),
        None => (None, None),
    };
    let served = state.chat.providers.served(&route.name);
    let mut reason = reason;
    if let Some(note) = unconfigured {
        reason.push_str(&format!("; but {note}"));
    }
    if let Some(by) = &served.last_served_by
        && served.last_fallback
    {
        reason.push_str(&format!(
            "; the last call was answered by {by} after failing over ({} of the last {} calls did)",
            served.fallbacks, served.calls
        ));
    }
    RouteView {
        name: route.name.clone(),
        source: route.source,
        chain,
        timeout_ms: route.timeout.as_millis() as u64,
        retries: route.retries,
        backoff_ms: route.backoff.as_millis() as u64,
        serving,
        model,
        reason,
        last: state.chat.providers.last_outcome(&route.name),
        served,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::state;

    #[tokio::test]
    async fn with_nothing_loaded_each_route_says_why_no_provider_serves_it() {
        let (state, _db, _dir) = state().await;
        let view = view(&state);
        let garden = view
            .routes
            .iter()
            .find(|r| r.name == super::super::VERTEX_GARDEN)
            .expect("vertex-garden");
        assert_eq!(garden.serving, None);
        assert_eq!(
            garden.reason,
            "no provider available: gemini not loaded; local not loaded"
        );
        assert_eq!(garden.chain[0].status, "not-loaded");
        let ids: Vec<_> = view.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["gemini", "local"]);
        assert!(view.providers.iter().all(|p| !p.loaded));
        assert_eq!(view.providers[0].breaker.state, "closed");
        assert_eq!(view.breaker.failures, 5);
    }

    #[tokio::test]
    async fn a_link_disabled_by_its_flag_is_shown_as_such() {
        let (state, _db, _dir) = state().await;
        let route = crate::config::RouteConfig {
            chain: vec![crate::config::ChainEntry {
                enabled: false,
                ..crate::config::ChainEntry::new("local")
            }],
            timeout_ms: None,
            retries: None,
            backoff_ms: None,
        };
        state
            .chat
            .providers
            .set_file_routes([("flagged".to_string(), route)].into());
        let route = state.chat.providers.route("flagged").expect("route");
        let view = route_view(&state, &route);
        assert_eq!(view.chain[0].status, "disabled");
        assert!(!view.chain[0].enabled);
        assert_eq!(view.reason, "no provider available: local disabled by flag");
    }
}
