//! Whether a provider plugin has what it needs to reach its service: the API key its
//! manifest declares (`permissions.secrets`, from the secrets file or the environment), or
//! an endpoint of the operator's own (`base_url` in `[plugins.<id>]`, such as a local
//! server that needs no key). A provider without either is loaded but every call to it
//! fails, so binding a route to it is warned about (in the API answer and the log, and at
//! start-up for the routes of the config file and the API) and the status shows it as not
//! configured.

use serde_json::Value;
use tracing::warn;

use super::loaded_provider;
use crate::config::{ChainEntry, RouteConfig};
use crate::plugins::LivePlugin;
use crate::state::AppState;

/// What a provider is missing, in words; `None` when it has a key or its own endpoint
/// (or declares no secrets: it needs none).
pub fn missing(state: &AppState, live: &LivePlugin) -> Option<String> {
    let declared = &live.plugin.manifest.permissions.secrets;
    if declared.is_empty() {
        return None;
    }
    let id = live.id();
    let config = state.plugins.plugin_config(id);
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if text("base_url").is_some() {
        return None;
    }
    // The secret the plugin is told to read, else any it declares.
    let candidates: Vec<String> = match text("api_key_secret") {
        Some(name) => vec![name],
        None => declared.clone(),
    };
    let services = state.plugins.runtime().services();
    if candidates.iter().any(|name| services.has_secret(name)) {
        return None;
    }
    let keys = match candidates.as_slice() {
        [one] => format!("{one} is not set"),
        many => format!("none of {} is set", many.join(", ")),
    };
    Some(format!(
        "no API key ({keys} in the secrets file or the environment) and no base_url in [plugins.{id}]"
    ))
}

/// Warnings about binding `route`: providers of its chain that are not loaded, or loaded
/// but not configured. Each is also logged at WARN for route `name`.
pub fn binding_warnings(state: &AppState, name: &str, route: &RouteConfig) -> Vec<String> {
    chain_warnings(state, name, &route.chain)
}

/// Once the plugins have loaded at start-up, warns (at WARN) about every route from the
/// config file or the API whose chain names a provider that is not loaded or not
/// configured. The built-in routes are left alone: they name providers an installation
/// may not use.
pub fn warn_at_start(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        state.plugins.wait_started(std::time::Duration::MAX).await;
        for route in state.chat.providers.table().iter() {
            if route.source != super::Source::Default {
                chain_warnings(&state, &route.name, &route.chain);
            }
        }
    });
}

fn chain_warnings(state: &AppState, name: &str, chain: &[ChainEntry]) -> Vec<String> {
    let mut warnings = Vec::new();
    for entry in chain {
        let warning = match loaded_provider(&state.plugins, &entry.provider) {
            None => format!(
                "provider `{}` is not loaded; the route skips it until it is",
                entry.provider
            ),
            Some(live) => match missing(state, &live) {
                None => continue,
                Some(why) => format!(
                    "provider `{}` is not configured: {why}; its calls will fail until it is",
                    entry.provider
                ),
            },
        };
        warn!(route = %name, provider = %entry.provider, warning = %warning, "route bound to a provider that cannot serve it");
        warnings.push(warning);
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::state;

    #[tokio::test]
    async fn a_provider_that_is_not_loaded_is_warned_about() {
        let (state, _db, _dir) = state().await;
        let route = RouteConfig {
            chain: vec![crate::config::ChainEntry::new("openai-compatible")],
            timeout_ms: None,
            retries: None,
            backoff_ms: None,
        };
        let warnings = binding_warnings(&state, "coder", &route);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("not loaded"), "{warnings:?}");
    }
}
