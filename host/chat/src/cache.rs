//! The chat response cache (`[cache]`, off by default): a successful answer is kept for
//! `ttl_secs` under a sha256 of everything the provider saw (the route and its chain, the
//! model, the whole message list with the session's history, the sampling settings and the
//! context), so the same question asked again is answered without calling the provider.
//! [`serve`] is the lookup every non-streaming chat surface goes through (HTTP chat,
//! Socket.IO `mama_bear_chat` and `/v1/chat/completions`); streamed requests bypass it.
//! Entries live in a `moka` cache bounded by `max_entries` (least recently used evicted).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::providers::{self, Progress, ProviderError, Route, Served};
use crate::runtime::provider::{ChatRequest, Role};
use crate::settings::CacheConfig;
use crate::{ChatCall, Chats};

/// One cached answer.
#[derive(Debug, Clone)]
struct Entry {
    route: String,
    served: Served,
}

#[derive(Debug, Default, Clone, Copy)]
struct RouteCounts {
    hits: u64,
    misses: u64,
}

/// The cache and its counters.
pub struct ChatCache {
    config: CacheConfig,
    entries: moka::sync::Cache<String, Arc<Entry>>,
    by_route: Mutex<BTreeMap<String, RouteCounts>>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
}

/// `GET /api/cache/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Chats answered from the cache.
    pub hits: u64,
    /// Cacheable chats the cache could not answer.
    pub misses: u64,
    /// hits / (hits + misses); 0 before any lookup.
    pub hit_rate: f64,
    /// Answers held now.
    pub entries: u64,
    /// Answers dropped for age (`ttl_secs`) or room (`max_entries`).
    pub evictions: u64,
    /// Whether the cache is on (`[cache] enabled`).
    pub enabled: bool,
    /// How long an answer is kept, in seconds.
    pub ttl_secs: u64,
    /// Most answers held at once.
    pub max_entries: u64,
    /// The routes cached (empty: every route).
    pub routes: Vec<String>,
    /// The same figures per route.
    pub by_route: BTreeMap<String, RouteStats>,
}

/// One route's figures in [`CacheStats`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RouteStats {
    /// Chats answered from the cache.
    pub hits: u64,
    /// Cacheable chats the cache could not answer.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_rate: f64,
    /// Answers held now.
    pub entries: u64,
}

impl ChatCache {
    /// A cache as `config` says (an empty one when disabled).
    pub fn new(config: &CacheConfig) -> ChatCache {
        ChatCache::with_ttl(config, Duration::from_secs(config.ttl_secs))
    }

    /// [`ChatCache::new`] with a time to live other than `config.ttl_secs` (tests).
    fn with_ttl(config: &CacheConfig, ttl: Duration) -> ChatCache {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = evictions.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(ttl)
            .eviction_listener(move |_key, _value, cause| {
                if matches!(cause, RemovalCause::Expired | RemovalCause::Size) {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        ChatCache {
            config: config.clone(),
            entries,
            by_route: Mutex::new(BTreeMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions,
        }
    }

    /// Whether answers on `route` are cached.
    pub fn applies_to(&self, route: &str) -> bool {
        self.config.enabled
            && (self.config.routes.is_empty() || self.config.routes.iter().any(|r| r == route))
    }

    /// The cached answer for `key` on `route`, counting the lookup.
    pub fn get(&self, route: &str, key: &str) -> Option<Served> {
        let found = self.entries.get(key).map(|entry| entry.served.clone());
        let hit = found.is_some();
        let total = if hit { &self.hits } else { &self.misses };
        total.fetch_add(1, Ordering::Relaxed);
        let mut by_route = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        let counts = by_route.entry(route.to_string()).or_default();
        if hit {
            counts.hits += 1;
        } else {
            counts.misses += 1;
        }
        found
    }

    /// Keeps `served` as the answer for `key` on `route`.
    pub fn insert(&self, route: &str, key: String, served: Served) {
        let entry = Entry {
            route: route.to_string(),
            served,
        };
        self.entries.insert(key, Arc::new(entry));
    }

    /// Drops the answers cached for `route`; how many there were.
    pub fn invalidate_route(&self, route: &str) -> u64 {
        let keys: Vec<Arc<String>> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.route == route)
            .map(|(key, _)| key)
            .collect();
        keys.iter()
            .filter(|key| self.entries.remove(key.as_str()).is_some())
            .count() as u64
    }

    /// Drops the answer under `key`; 1 if there was one, else 0.
    pub fn invalidate_key(&self, key: &str) -> u64 {
        u64::from(self.entries.remove(key).is_some())
    }

    /// Drops every answer; how many there were.
    pub fn clear(&self) -> u64 {
        let keys: Vec<Arc<String>> = self.entries.iter().map(|(key, _)| key).collect();
        let removed = keys
            .iter()
            .filter(|key| self.entries.remove(key.as_str()).is_some())
            .count() as u64;
        self.entries.run_pending_tasks();
        removed
    }

    /// The figures of `GET /api/cache/stats`.
    pub fn stats(&self) -> CacheStats {
        self.entries.run_pending_tasks();
        let mut held: BTreeMap<String, u64> = BTreeMap::new();
        for (_, entry) in self.entries.iter() {
            *held.entry(entry.route.clone()).or_default() += 1;
        }
        let counts = self
            .by_route
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut by_route = BTreeMap::new();
        for route in counts.keys().chain(held.keys()) {
            let c = counts.get(route).copied().unwrap_or_default();
            by_route.insert(
                route.clone(),
                RouteStats {
                    hits: c.hits,
                    misses: c.misses,
                    hit_rate: rate(c.hits, c.misses),
                    entries: held.get(route).copied().unwrap_or(0),
                },
            );
        }
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        CacheStats {
            hits,
            misses,
            hit_rate: rate(hits, misses),
            entries: held.values().sum(),
            evictions: self.evictions.load(Ordering::Relaxed),
            enabled: self.config.enabled,
            ttl_secs: self.config.ttl_secs,
            max_entries: self.config.max_entries,
            routes: self.config.routes.clone(),
            by_route,
        }
    }
}

fn rate(hits: u64, misses: u64) -> f64 {
    match hits + misses {
        0 => 0.0,
        total => hits as f64 / total as f64,
    }
}

/// The cache key of `request` on `route`: hex sha256 over every field the provider sees
/// (whether the answer is streamed is not one: the answer is the same).
pub fn key(route: &Route, request: &ChatRequest) -> String {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(b"sanctuary-chat-cache-v1");
    field(route.name.as_bytes());
    for link in &route.chain {
        field(link.provider.as_bytes());
        field(link.model.as_deref().unwrap_or("\0default").as_bytes());
        field(&[u8::from(link.enabled)]);
    }
    field(b"\0request");
    field(request.model.as_deref().unwrap_or("\0default").as_bytes());
    field(&request.max_tokens.map_or(u64::MAX, u64::from).to_le_bytes());
    field(
        &request
            .temperature
            .map_or(u32::MAX, f32::to_bits)
            .to_le_bytes(),
    );
    field(request.context.as_deref().unwrap_or("\0none").as_bytes());
    for message in &request.messages {
        let role: &[u8] = match message.role {
            Role::System => b"system",
            Role::User => b"user",
            Role::Assistant => b"assistant",
        };
        field(role);
        field(message.content.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// [`providers::serve`] with the cache in front when it applies to the route: a hit is
/// answered at once (to a `progress` listener as one chunk) and counted, a successful
/// answer to a miss is kept. Failures are never cached.
pub async fn serve(
    chats: &Chats,
    route: &Route,
    request: &ChatRequest,
    progress: Option<&dyn Progress>,
) -> Result<Served, ProviderError> {
    if !chats.cache.applies_to(&route.name) {
        return providers::serve(chats, route, request, progress).await;
    }
    let started = Instant::now();
    let key = key(route, request);
    if let Some(mut served) = chats.cache.get(&route.name, &key) {
        chats.observer.cache_lookup(&route.name, true);
        served.cached = true;
        served.cache_key = Some(key);
        served.elapsed = started.elapsed();
        served.attempts.clear();
        if let Some(progress) = progress {
            progress.serving(&served.provider, Some(&served.response.model));
            progress.chunk(served.response.text.clone());
        }
        chats
            .observer
            .chat_call(ChatCall::answered(&route.name, &served, served.elapsed));
        return Ok(served);
    }
    chats.observer.cache_lookup(&route.name, false);
    let mut served = providers::serve(chats, route, request, progress).await?;
    chats.cache.insert(&route.name, key.clone(), served.clone());
    served.cache_key = Some(key);
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::provider::{ChatResponse, Message, Usage};
    use crate::settings::ChainEntry;

    fn config(enabled: bool, routes: &[&str]) -> CacheConfig {
        CacheConfig {
            enabled,
            routes: routes.iter().map(|r| r.to_string()).collect(),
            ..CacheConfig::default()
        }
    }

    fn route(name: &str, provider: &str) -> Route {
        Route::ad_hoc(name, vec![ChainEntry::new(provider)])
    }

    fn request(messages: &[(Role, &str)]) -> ChatRequest {
        ChatRequest {
            model: None,
            messages: messages
                .iter()
                .map(|(role, content)| Message {
                    role: *role,
                    content: content.to_string(),
                })
                .collect(),
            max_tokens: None,
            temperature: None,
            streaming: false,
            context: None,
        }
    }

    fn served(text: &str) -> Served {
        Served {
            response: ChatResponse {
                text: text.into(),
                model: "echo".into(),
                usage: Usage {
                    prompt_tokens: 3,
                    completion_tokens: 4,
                },
                finish_reason: "stop".into(),
            },
            provider: "local".into(),
            route: "mama-bear".into(),
            elapsed: Duration::from_millis(1),
            attempts: Vec::new(),
            cached: false,
            cache_key: None,
        }
    }

    #[test]
    fn the_key_covers_everything_the_provider_sees_but_streaming() {
        let base = request(&[(Role::User, "hi")]);
        let mama = route("mama-bear", "local");
        let k = key(&mama, &base);
        assert_eq!(k.len(), 64);
        assert_eq!(k, key(&mama, &base.clone()), "stable");
        let streamed = ChatRequest {
            streaming: true,
            ..base.clone()
        };
        assert_eq!(k, key(&mama, &streamed));
        let variants = [
            key(&route("vertex-garden", "local"), &base),
            key(&route("mama-bear", "gemini"), &base),
            key(
                &mama,
                &ChatRequest {
                    model: Some("other".into()),
                    ..base.clone()
                },
            ),
            key(
                &mama,
                &ChatRequest {
                    temperature: Some(0.5),
                    ..base.clone()
                },
            ),
            key(
                &mama,
                &ChatRequest {
                    max_tokens: Some(10),
                    ..base.clone()
                },
            ),
            key(
                &mama,
                &ChatRequest {
                    context: Some("{}".into()),
                    ..base.clone()
                },
            ),
            key(&mama, &request(&[(Role::Assistant, "hi")])),
            key(
                &mama,
                &request(&[
                    (Role::User, "earlier"),
                    (Role::Assistant, "x"),
                    (Role::User, "hi"),
                ]),
            ),
            // Field boundaries count: "ab"+"c" is not "a"+"bc".
            key(&mama, &request(&[(Role::User, "h"), (Role::User, "i")])),
        ];
        for (i, other) in variants.iter().enumerate() {
            assert_ne!(&k, other, "variant {i}");
        }
    }

    #[test]
    fn routes_are_cached_only_when_enabled_and_listed() {
        assert!(!ChatCache::new(&config(false, &[])).applies_to("mama-bear"));
        assert!(ChatCache::new(&config(true, &[])).applies_to("anything"));
        let listed = ChatCache::new(&config(true, &["mama-bear"]));
        assert!(listed.applies_to("mama-bear"));
        assert!(!listed.applies_to("vertex-garden"));
    }

    #[test]
    fn hits_and_misses_are_counted_per_route() {
        let cache = ChatCache::new(&config(true, &[]));
        assert!(cache.get("mama-bear", "k1").is_none());
        cache.insert("mama-bear", "k1".into(), served("hello"));
        let hit = cache.get("mama-bear", "k1").expect("a hit");
        assert_eq!(hit.response.text, "hello");
        assert!(cache.get("vertex-garden", "k2").is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 2, 1));
        assert!((stats.hit_rate - 1.0 / 3.0).abs() < 1e-9);
        let mama = &stats.by_route["mama-bear"];
        assert_eq!((mama.hits, mama.misses, mama.entries), (1, 1, 1));
        assert_eq!(stats.by_route["vertex-garden"].entries, 0);
    }

    #[test]
    fn invalidation_by_route_and_key_and_clearing_report_what_they_dropped() {
        let cache = ChatCache::new(&config(true, &[]));
        cache.insert("mama-bear", "a".into(), served("1"));
        cache.insert("mama-bear", "b".into(), served("2"));
        cache.insert("vertex-garden", "c".into(), served("3"));
        cache.insert("vertex-garden", "d".into(), served("4"));
        assert_eq!(cache.invalidate_route("mama-bear"), 2);
        assert_eq!(cache.invalidate_route("mama-bear"), 0);
        assert_eq!(cache.invalidate_key("c"), 1);
        assert_eq!(cache.invalidate_key("c"), 0);
        assert_eq!(cache.stats().entries, 1);
        assert_eq!(cache.clear(), 1);
        assert_eq!(cache.stats().entries, 0);
        assert!(cache.get("vertex-garden", "d").is_none());
        assert_eq!(
            cache.stats().evictions,
            0,
            "explicit removals are not evictions"
        );
    }

    #[test]
    fn an_answer_older_than_the_ttl_is_gone() {
        let cache = ChatCache::with_ttl(&config(true, &[]), Duration::from_millis(50));
        cache.insert("mama-bear", "k".into(), served("old"));
        assert!(cache.get("mama-bear", "k").is_some());
        std::thread::sleep(Duration::from_millis(120));
        assert!(cache.get("mama-bear", "k").is_none());
        let stats = cache.stats();
        assert_eq!(stats.entries, 0);
        assert_eq!(stats.evictions, 1);
    }

    #[test]
    fn past_max_entries_older_answers_are_evicted() {
        let cache = ChatCache::new(&CacheConfig {
            max_entries: 2,
            ..config(true, &[])
        });
        for i in 0..10 {
            cache.insert("mama-bear", format!("k{i}"), served("x"));
            cache.entries.run_pending_tasks();
        }
        let stats = cache.stats();
        assert!(stats.entries <= 2, "{stats:?}");
        assert!(stats.evictions >= 8, "{stats:?}");
    }
}
