//! The chat sections of the config file: a route (`[routes.<name>]`) and its chain links,
//! the circuit breaker (`[breaker]`) and the response cache (`[cache]`), with their
//! defaults. The server's config (`sanctuary::config`) reads them from flags, environment
//! and file and hands them over; they are here because this crate is what they configure.

use serde::{Deserialize, Serialize};

/// One chat route (`[routes.<name>]`): providers tried in order until one answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The providers, first choice first.
    pub chain: Vec<ChainEntry>,
    /// Cap on each provider call, in milliseconds (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Extra attempts on one provider before moving to the next (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Wait before the first retry, doubled for each further one, with jitter (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
}

/// One link of a route's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainEntry {
    /// Id of an ai-provider plugin.
    pub provider: String,
    /// Model to ask for; the provider's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Feature flag: a disabled link stays in the chain but is never tried.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl ChainEntry {
    /// A link to `provider` with its default model.
    pub fn new(provider: impl Into<String>) -> ChainEntry {
        ChainEntry {
            provider: provider.into(),
            model: None,
            enabled: true,
        }
    }
}

/// Circuit-breaker settings (`[breaker]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open a provider's breaker.
    pub failures: u32,
    /// How long an open breaker refuses calls before letting one probe call through.
    pub open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failures: 5,
            open_ms: 30_000,
        }
    }
}

/// Chat response cache (`[cache]`): successful answers kept for `ttl_secs`, keyed by
/// everything the provider sees. Takes effect at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether answers are cached at all (default false).
    pub enabled: bool,
    /// How long an answer is kept, in seconds (default 300).
    pub ttl_secs: u64,
    /// Most answers held at once; the least recently used go first (default 1000).
    pub max_entries: u64,
    /// Routes whose answers are cached; empty means every route.
    pub routes: Vec<String>,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            enabled: false,
            ttl_secs: 300,
            max_entries: 1000,
            routes: Vec::new(),
        }
    }
}
