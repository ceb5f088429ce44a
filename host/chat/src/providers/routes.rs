//! The route table: which chain of providers answers each named route. Three layers, the
//! later beating the earlier for a name: the built-in defaults (`mama-bear` → `local`,
//! `vertex-garden` → `gemini`, `local`), the config file's `[routes.<name>]`, and bindings
//! set through the admin API (stored in the database). The table is rebuilt from the layers
//! whenever one changes and swapped in whole, so a call sees one consistent table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::settings::{ChainEntry, RouteConfig};

/// The seeds' primary chat route (`POST /api/chat/mama-bear`, Socket.IO `mama_bear_chat`).
pub const MAMA_BEAR: &str = "mama-bear";
/// The seeds' "direct" chat route (`POST /api/chat/vertex-garden/chat`).
pub const VERTEX_GARDEN: &str = "vertex-garden";

/// Cap on one provider call when a route sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// Extra attempts on one provider when a route sets none.
pub const DEFAULT_RETRIES: u32 = 1;
/// First retry delay when a route sets none.
pub const DEFAULT_BACKOFF_MS: u64 = 100;

const MAX_TIMEOUT_MS: u64 = 600_000;
const MAX_RETRIES: u32 = 10;
const MAX_BACKOFF_MS: u64 = 60_000;
const MAX_CHAIN: usize = 16;

/// Where a route's definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Built into the host.
    Default,
    /// The config file's `[routes.<name>]`.
    Config,
    /// `PUT /api/providers/routes/{name}`.
    Api,
}

/// A route ready to be served: its chain and its resolved call policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Its name.
    pub name: String,
    /// Providers, first choice first.
    pub chain: Vec<ChainEntry>,
    /// Cap on each provider call.
    pub timeout: Duration,
    /// Extra attempts on one provider.
    pub retries: u32,
    /// First retry delay (doubled per further retry, with jitter).
    pub backoff: Duration,
    /// Where it was defined.
    pub source: Source,
}

impl Route {
    /// The route `name` as `config` defines it, from `source`.
    pub fn from_config(name: &str, config: &RouteConfig, source: Source) -> Route {
        Route {
            name: name.to_string(),
            chain: config.chain.clone(),
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
            retries: config.retries.unwrap_or(DEFAULT_RETRIES),
            backoff: Duration::from_millis(config.backoff_ms.unwrap_or(DEFAULT_BACKOFF_MS)),
            source,
        }
    }

    /// An unnamed route over `chain` with the default policy (the OpenAI-compatible
    /// surface's `provider/model` and bare model names).
    pub fn ad_hoc(label: &str, chain: Vec<ChainEntry>) -> Route {
        Route::from_config(
            label,
            &RouteConfig {
                chain,
                timeout_ms: None,
                retries: None,
                backoff_ms: None,
            },
            Source::Default,
        )
    }
}

/// The built-in routes, used for names that the config file and the API do not set.
pub fn defaults() -> BTreeMap<String, RouteConfig> {
    let route = |providers: &[&str]| RouteConfig {
        chain: providers.iter().map(|p| ChainEntry::new(*p)).collect(),
        timeout_ms: None,
        retries: None,
        backoff_ms: None,
    };
    BTreeMap::from([
        (MAMA_BEAR.to_string(), route(&["local"])),
        (VERTEX_GARDEN.to_string(), route(&["gemini", "local"])),
    ])
}

/// Every route, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    routes: BTreeMap<String, Route>,
}

impl RouteTable {
    /// The table of the three layers (later layers win for a name).
    pub fn build(
        file: &BTreeMap<String, RouteConfig>,
        api: &BTreeMap<String, RouteConfig>,
    ) -> RouteTable {
        let mut routes = BTreeMap::new();
        let layers = [
            (defaults(), Source::Default),
            (file.clone(), Source::Config),
            (api.clone(), Source::Api),
        ];
        for (layer, source) in layers {
            for (name, config) in layer {
                let route = Route::from_config(&name, &config, source);
                routes.insert(name, route);
            }
        }
        RouteTable { routes }
    }

    /// The route `name`.
    pub fn get(&self, name: &str) -> Option<&Route> {
        self.routes.get(name)
    }

    /// Every route, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.values()
    }

    /// What changed from `self` to `next`, one line per route, for the log.
    pub fn diff(&self, next: &RouteTable) -> Vec<String> {
        let mut changes = Vec::new();
        for (name, route) in &next.routes {
            match self.routes.get(name) {
                None => changes.push(format!("added {name}: {}", describe(route))),
                Some(old) if old != route => changes.push(format!(
                    "changed {name}: {} -> {}",
                    describe(old),
                    describe(route)
                )),
                Some(_) => {}
            }
        }
        for name in self.routes.keys() {
            if !next.routes.contains_key(name) {
                changes.push(format!("removed {name}"));
            }
        }
        changes
    }
}

/// `[openai-compatible/gpt-4o, local] (timeout 60000 ms, 1 retries, from config)`.
fn describe(route: &Route) -> String {
    let chain: Vec<String> = route
        .chain
        .iter()
        .map(|e| {
            let mut s = match &e.model {
                Some(model) => format!("{}/{model}", e.provider),
                None => e.provider.clone(),
            };
            if !e.enabled {
                s.push_str(" (disabled)");
            }
            s
        })
        .collect();
    format!(
        "[{}] (timeout {} ms, {} retries, from {:?})",
        chain.join(", "),
        route.timeout.as_millis(),
        route.retries,
        route.source
    )
}

/// Checks a route's name and definition; the message names what is wrong.
pub fn validate_route(name: &str, route: &RouteConfig) -> Result<(), String> {
    validate_name(name)?;
    if route.chain.is_empty() {
        return Err("chain must name at least one provider".into());
    }
    if route.chain.len() > MAX_CHAIN {
        return Err(format!(
            "chain names {} providers; at most {MAX_CHAIN}",
            route.chain.len()
        ));
    }
    for (i, entry) in route.chain.iter().enumerate() {
        if entry.provider.trim().is_empty() {
            return Err(format!("chain[{i}].provider must not be empty"));
        }
        // A provider is a plugin: its id follows the plugin id rules.
        crate::runtime::ids::check(crate::runtime::ids::Kind::Provider, &entry.provider)
            .map_err(|e| format!("chain[{i}].provider: {e}"))?;
        if entry.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(format!("chain[{i}].model must not be empty when given"));
        }
        if entry
            .model
            .as_deref()
            .is_some_and(|m| m.len() > 200 || m.chars().any(char::is_control))
        {
            return Err(format!(
                "chain[{i}].model must be at most 200 characters with no control characters"
            ));
        }
    }
    if let Some(ms) = route.timeout_ms
        && !(1..=MAX_TIMEOUT_MS).contains(&ms)
    {
        return Err(format!("timeout_ms must be 1..={MAX_TIMEOUT_MS}, not {ms}"));
    }
    if let Some(n) = route.retries
        && n > MAX_RETRIES
    {
        return Err(format!("retries must be at most {MAX_RETRIES}, not {n}"));
    }
    if let Some(ms) = route.backoff_ms
        && ms > MAX_BACKOFF_MS
    {
        return Err(format!(
            "backoff_ms must be at most {MAX_BACKOFF_MS}, not {ms}"
        ));
    }
    Ok(())
}

/// A route name: 1-64 of `a-z 0-9 - _ .`, starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), String> {
    crate::runtime::ids::check(crate::runtime::ids::Kind::Route, name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(providers: &[&str]) -> RouteConfig {
        RouteConfig {
            chain: providers.iter().map(|p| ChainEntry::new(*p)).collect(),
            timeout_ms: None,
            retries: None,
            backoff_ms: None,
        }
    }

    fn providers(table: &RouteTable, name: &str) -> Vec<String> {
        table
            .get(name)
            .expect("route")
            .chain
            .iter()
            .map(|e| e.provider.clone())
            .collect()
    }

    #[test]
    fn the_defaults_serve_mama_bear_locally_and_vertex_garden_from_gemini_then_local() {
        let table = RouteTable::build(&BTreeMap::new(), &BTreeMap::new());
        assert_eq!(providers(&table, MAMA_BEAR), ["local"]);
        assert_eq!(providers(&table, VERTEX_GARDEN), ["gemini", "local"]);
        let route = table.get(MAMA_BEAR).expect("route");
        assert_eq!(route.source, Source::Default);
        assert_eq!(route.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert_eq!(route.retries, DEFAULT_RETRIES);
    }

    #[test]
    fn the_file_beats_the_defaults_and_the_api_beats_the_file() {
        let file = BTreeMap::from([
            (
                MAMA_BEAR.to_string(),
                chain(&["openai-compatible", "local"]),
            ),
            ("coder".to_string(), chain(&["anthropic"])),
        ]);
        let api = BTreeMap::from([("coder".to_string(), chain(&["gemini"]))]);
        let table = RouteTable::build(&file, &api);
        assert_eq!(providers(&table, MAMA_BEAR), ["openai-compatible", "local"]);
        assert_eq!(table.get(MAMA_BEAR).expect("route").source, Source::Config);
        assert_eq!(providers(&table, "coder"), ["gemini"]);
        assert_eq!(table.get("coder").expect("route").source, Source::Api);
        assert_eq!(providers(&table, VERTEX_GARDEN), ["gemini", "local"]);
    }

    #[test]
    fn the_diff_names_each_added_changed_and_removed_route() {
        let before = RouteTable::build(
            &BTreeMap::from([("old".to_string(), chain(&["local"]))]),
            &BTreeMap::new(),
        );
        let after = RouteTable::build(
            &BTreeMap::from([
                (MAMA_BEAR.to_string(), chain(&["anthropic"])),
                ("new".to_string(), chain(&["local"])),
            ]),
            &BTreeMap::new(),
        );
        let diff = after.diff(&after);
        assert!(diff.is_empty(), "{diff:?}");
        let diff = before.diff(&after);
        assert_eq!(diff.len(), 3, "{diff:?}");
        assert!(
            diff[0].starts_with("changed mama-bear: [local]"),
            "{diff:?}"
        );
        assert!(diff[0].contains("-> [anthropic]"), "{diff:?}");
        assert!(diff[1].starts_with("added new"), "{diff:?}");
        assert_eq!(diff[2], "removed old");
    }

    #[test]
    fn bad_routes_are_refused_with_the_reason() {
        let cases = [
            ("", chain(&["local"]), "route name"),
            ("Mama Bear", chain(&["local"]), "route name"),
            ("ok", chain(&[]), "at least one"),
            ("ok", chain(&[" "]), "chain[0].provider"),
            (
                "ok",
                RouteConfig {
                    timeout_ms: Some(0),
                    ..chain(&["local"])
                },
                "timeout_ms",
            ),
            (
                "ok",
                RouteConfig {
                    retries: Some(99),
                    ..chain(&["local"])
                },
                "retries",
            ),
        ];
        for (name, route, expected) in cases {
            let err = validate_route(name, &route).expect_err("refused");
            assert!(err.contains(expected), "{name:?}: {err}");
        }
        assert!(validate_route("vertex-garden", &chain(&["gemini"])).is_ok());
    }

    #[test]
    fn a_provider_id_with_control_characters_or_capitals_is_refused() {
        for provider in ["local\nforged", "Local", "../x", "a b"] {
            let err = validate_route("r", &chain(&[provider])).expect_err("refused");
            assert!(err.contains("chain[0].provider"), "{provider:?}: {err}");
        }
        assert!(validate_route("r", &chain(&["openai-compatible"])).is_ok());
    }
}
