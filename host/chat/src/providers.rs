//! AI routing: which provider plugins answer a chat route (`mama-bear`, `vertex-garden`, or
//! any the operator adds), in which order, and what happens when one fails.
//!
//! A route is an ordered chain of `{provider, model?}` links ([`routes`]). [`serve`] is the
//! failover walk every surface reaches through [`crate::chat::answer`] (HTTP chat,
//! Socket.IO, SSE, the OpenAI-compatible endpoint, jobs): it walks the chain, skipping
//! providers that are not loaded, disabled by
//! flag or behind an open circuit breaker ([`breaker`]); calls each under the route's
//! timeout, retrying with exponential backoff and jitter; and moves to the next link on
//! any failure except `invalid-input`, which is the caller's fault and answered as such.
//! A provider that already streamed part of an answer is not failed over (the listener
//! has seen its words), its error is the answer.
//!
//! Routes come from built-in defaults, the config file and the admin API, which the
//! server reads (its `reload` follows the file, `providers::store` keeps the
//! API's bindings) and hands over as layers ([`Providers::set_file_routes`],
//! [`Providers::set_api_routes`]); [`served`] says who actually answered a route's recent
//! calls. The server's `providers::status` explains which provider serves each route now
//! and why.

pub mod breaker;
pub mod routes;
pub mod served;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use utoipa::ToSchema;

use sanctuary_plugins::{LivePlugin, PluginHost};

use crate::manifest::Kind;
use crate::runtime::CallError;
use crate::runtime::provider::{ChatRequest, ChatResponse};
use crate::settings::{BreakerConfig, ChainEntry, RouteConfig};
use crate::{ChatCall, Chats};
use breaker::Breakers;
pub use routes::{MAMA_BEAR, Route, RouteTable, Source, VERTEX_GARDEN, validate_route};

/// Longest wait between two attempts on one provider.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The routing state: the route table, its layers, the breakers and recent outcomes.
pub struct Providers {
    table: RwLock<Arc<RouteTable>>,
    layers: Mutex<Layers>,
    breakers: Arc<Breakers>,
    outcomes: Mutex<BTreeMap<String, Outcome>>,
    served: Mutex<BTreeMap<String, served::History>>,
}

/// The layers the table is built from (the built-in defaults are implied).
#[derive(Default)]
struct Layers {
    file: BTreeMap<String, RouteConfig>,
    api: BTreeMap<String, RouteConfig>,
}

impl Providers {
    /// Routing over the config file's `routes` (`[routes]`) with `breaker` (`[breaker]`),
    /// without API bindings.
    pub fn new(routes: BTreeMap<String, RouteConfig>, breaker: BreakerConfig) -> Providers {
        let layers = Layers {
            file: routes,
            api: BTreeMap::new(),
        };
        Providers {
            table: RwLock::new(Arc::new(RouteTable::build(&layers.file, &layers.api))),
            layers: Mutex::new(layers),
            breakers: Arc::new(Breakers::new(breaker)),
            outcomes: Mutex::new(BTreeMap::new()),
            served: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes the bindings stored through the admin API as the API layer (replacing the
    /// one in force: another node may have bound or unbound routes); returns what changed
    /// in the table.
    pub fn set_api_routes(&self, stored: BTreeMap<String, RouteConfig>) -> Vec<String> {
        let mut layers = lock(&self.layers);
        layers.api.clear();
        for (name, route) in stored {
            // A binding stored by an older host that this one judges invalid is skipped.
            match validate_route(&name, &route) {
                Ok(()) => {
                    layers.api.insert(name, route);
                }
                Err(e) => warn!(route = %name, cause = %e, "ignoring a stored route binding"),
            }
        }
        self.rebuild(&layers)
    }

    /// The route table in force (a snapshot: later changes do not alter it).
    pub fn table(&self) -> Arc<RouteTable> {
        match self.table.read() {
            Ok(table) => table.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The route `name`, if any.
    pub fn route(&self, name: &str) -> Option<Route> {
        self.table().get(name).cloned()
    }

    /// The breakers.
    pub fn breakers(&self) -> &Arc<Breakers> {
        &self.breakers
    }

    /// Replaces the config file's routes; returns what changed in the table.
    pub fn set_file_routes(&self, routes: BTreeMap<String, RouteConfig>) -> Vec<String> {
        let mut layers = lock(&self.layers);
        layers.file = routes;
        self.rebuild(&layers)
    }

    /// Binds route `name` through the API (it beats the config file); returns what
    /// changed in the table.
    pub fn set_api_route(&self, name: &str, route: RouteConfig) -> Vec<String> {
        let mut layers = lock(&self.layers);
        layers.api.insert(name.to_string(), route);
        self.rebuild(&layers)
    }

    /// Removes the API binding of `name`, if it had one.
    pub fn remove_api_route(&self, name: &str) -> Option<Vec<String>> {
        let mut layers = lock(&self.layers);
        layers.api.remove(name)?;
        Some(self.rebuild(&layers))
    }

    /// Whether `name` is bound through the API.
    pub fn has_api_route(&self, name: &str) -> bool {
        lock(&self.layers).api.contains_key(name)
    }

    fn rebuild(&self, layers: &Layers) -> Vec<String> {
        let next = RouteTable::build(&layers.file, &layers.api);
        let mut table = self
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let changes = table.diff(&next);
        *table = Arc::new(next);
        changes
    }

    /// The last outcome of route `name`.
    pub fn last_outcome(&self, name: &str) -> Option<Outcome> {
        lock(&self.outcomes).get(name).cloned()
    }

    /// Who served the recent calls of route `name`.
    pub fn served(&self, name: &str) -> served::ServedView {
        lock(&self.served)
            .get(name)
            .map(served::History::view)
            .unwrap_or_default()
    }

    fn record(&self, route: &str, outcome: Outcome) {
        lock(&self.served)
            .entry(route.to_string())
            .or_default()
            .push(outcome.clone());
        lock(&self.outcomes).insert(route.to_string(), outcome);
    }
}

/// Receives what a provider streams while it answers.
pub trait Progress: Send + Sync {
    /// `provider` is about to be tried with `model` (none: its default); chunks that
    /// follow are its.
    fn serving(&self, provider: &str, model: Option<&str>) {
        let _ = (provider, model);
    }
    /// A piece of the answer.
    fn chunk(&self, text: String);
}

/// A chat answered by one provider of a route.
#[derive(Debug, Clone)]
pub struct Served {
    /// The provider's answer.
    pub response: ChatResponse,
    /// Id of the provider plugin that answered.
    pub provider: String,
    /// The route (or, off-route, the model name asked for).
    pub route: String,
    /// From the call of [`chat`] to the answer, failovers included.
    pub elapsed: Duration,
    /// Every provider tried or skipped on the way, in order.
    pub attempts: Vec<Attempt>,
    /// Whether the answer came from the response cache ([`crate::cache`]).
    pub cached: bool,
    /// The response-cache key of the request, when the route is cached.
    pub cache_key: Option<String>,
}

/// One step of a failover walk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    /// Provider plugin id.
    pub provider: String,
    /// Model asked for (none: the provider's default).
    pub model: Option<String>,
    /// `ok`, `failed`, `refused` (invalid input) or `skipped`.
    pub outcome: &'static str,
    /// The failure's code (`unavailable`, `timeout`, ...), when it failed.
    pub code: Option<&'static str>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// 0 for the first attempt on this provider, 1 for the first retry, ...
    pub retry: u32,
    /// How long the call took, in milliseconds (none when skipped).
    pub elapsed_ms: Option<f64>,
}

impl Attempt {
    fn skipped(entry: &ChainEntry, reason: impl Into<String>) -> Attempt {
        Attempt {
            provider: entry.provider.clone(),
            model: entry.model.clone(),
            outcome: "skipped",
            code: None,
            reason: Some(reason.into()),
            retry: 0,
            elapsed_ms: None,
        }
    }
}

/// The last time a route was served, for the status endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    /// When (RFC 3339).
    pub at: String,
    /// Whether a provider answered.
    pub ok: bool,
    /// Who answered.
    pub provider: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Milliseconds, failovers included.
    pub elapsed_ms: f64,
    /// The error, when none answered.
    pub error: Option<String>,
    /// The providers tried or skipped.
    pub attempts: Vec<Attempt>,
}

/// Why no provider answered.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No route has this name.
    #[error("no chat route is named `{0}`")]
    UnknownRoute(String),
    /// None of the route's providers is loaded (or all are disabled).
    #[error("no AI provider is loaded to answer the `{route}` route")]
    NoProvider {
        /// The route.
        route: String,
        /// The links skipped, with why.
        attempts: Vec<Attempt>,
    },
    /// The provider judged the request bad; not failed over.
    #[error("{error}")]
    InvalidInput {
        /// The provider's answer.
        error: CallError,
        /// The providers tried.
        attempts: Vec<Attempt>,
    },
    /// Every provider failed or was behind an open breaker.
    #[error("no provider of the `{route}` route answered; last: {last}")]
    Exhausted {
        /// The route.
        route: String,
        /// The last failure (for breakers only: a synthetic `unavailable`).
        last: CallError,
        /// Every provider tried or skipped.
        attempts: Vec<Attempt>,
    },
}

impl ProviderError {
    /// The HTTP status this failure answers with: 400 for invalid input, 404 for an
    /// unknown route, 503 when nothing is loaded or available, 504 when the last provider
    /// timed out, 502 for any other provider failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ProviderError::UnknownRoute(_) => StatusCode::NOT_FOUND,
            ProviderError::NoProvider { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProviderError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
            ProviderError::Exhausted { last, .. } => failure_status(last),
        }
    }

    /// A short code: `unknown_route`, `no_provider`, or the provider's code.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::UnknownRoute(_) => "unknown_route",
            ProviderError::NoProvider { .. } => "no_provider",
            ProviderError::InvalidInput { error, .. } => error.code(),
            ProviderError::Exhausted { last, .. } => last.code(),
        }
    }

    /// The providers tried or skipped.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            ProviderError::UnknownRoute(_) => &[],
            ProviderError::NoProvider { attempts, .. }
            | ProviderError::InvalidInput { attempts, .. }
            | ProviderError::Exhausted { attempts, .. } => attempts,
        }
    }
}

/// The HTTP status a provider's failure answers with, on every surface: 400 when it judged
/// the input bad, 504 when it timed out, 429 when its rate limit is spent, 503 when it is
/// unavailable, busy or could not be set up, 502 for any other failure.
pub fn failure_status(call: &CallError) -> StatusCode {
    match call {
        CallError::Plugin {
            code: "invalid-input",
            ..
        } => StatusCode::BAD_REQUEST,
        CallError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        CallError::Busy { .. } if call.is_rate_limited() => StatusCode::TOO_MANY_REQUESTS,
        CallError::Plugin {
            code: "unavailable",
            ..
        }
        | CallError::Busy { .. }
        | CallError::Setup { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl From<ProviderError> for crate::chat::Error {
    fn from(err: ProviderError) -> crate::chat::Error {
        match err {
            ProviderError::UnknownRoute(route) | ProviderError::NoProvider { route, .. } => {
                crate::chat::Error::NoProvider { route }
            }
            ProviderError::InvalidInput { error, .. } => crate::chat::Error::Provider(error),
            ProviderError::Exhausted { last, .. } => crate::chat::Error::Provider(last),
        }
    }
}

/// The first provider of `route`'s chain that is loaded and enabled (breakers aside), or
/// `None` when the route has none (or does not exist).
pub fn provider_for_route(chats: &Chats, route: &str) -> Option<Arc<LivePlugin>> {
    first_loaded(chats, &chats.providers.route(route)?)
}

/// The first provider of `route`'s chain that is loaded and enabled (breakers aside).
pub fn first_loaded(chats: &Chats, route: &Route) -> Option<Arc<LivePlugin>> {
    let provider = route
        .chain
        .iter()
        .filter(|entry| entry.enabled)
        .find_map(|entry| loaded_provider(&chats.plugins, &entry.provider));
    tracing::trace!(
        route = %route.name,
        provider = provider.as_ref().map(|p| p.id()),
        "chat route"
    );
    provider
}

/// The live ai-provider plugin `id`.
pub fn loaded_provider(plugins: &PluginHost, id: &str) -> Option<Arc<LivePlugin>> {
    plugins
        .get(id)
        .filter(|live| live.plugin.kind() == Kind::AiProvider)
}

/// The route named `name`, or [`ProviderError::UnknownRoute`].
pub fn named_route(chats: &Chats, name: &str) -> Result<Route, ProviderError> {
    chats
        .providers
        .route(name)
        .ok_or_else(|| ProviderError::UnknownRoute(name.to_string()))
}

/// Answers `request` along `route`'s chain (a named route or an ad-hoc one); see the
/// module docs for the policy.
pub async fn serve(
    chats: &Chats,
    route: &Route,
    request: &ChatRequest,
    progress: Option<&dyn Progress>,
) -> Result<Served, ProviderError> {
    let started = Instant::now();
    let result = walk(chats, route, request, progress, started).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let outcome = match &result {
        Ok(served) => Outcome {
            at: crate::clock::timestamp(),
            ok: true,
            provider: Some(served.provider.clone()),
            model: Some(served.response.model.clone()),
            elapsed_ms,
            error: None,
            attempts: served.attempts.clone(),
        },
        Err(err) => Outcome {
            at: crate::clock::timestamp(),
            ok: false,
            provider: None,
            model: None,
            elapsed_ms,
            error: Some(err.to_string()),
            attempts: err.attempts().to_vec(),
        },
    };
    chats
        .observer
        .chat_call(chat_call(&route.name, &result, started.elapsed()));
    chats.providers.record(&route.name, outcome);
    result
}

/// The call record of one [`serve`]: on failure, the provider that failed last.
fn chat_call(route: &str, result: &Result<Served, ProviderError>, duration: Duration) -> ChatCall {
    match result {
        Ok(served) => ChatCall::answered(route, served, duration),
        Err(err) => {
            let last = err.attempts().iter().rev().find(|a| a.outcome != "skipped");
            ChatCall {
                route: route.to_string(),
                provider: last.map(|a| a.provider.clone()),
                model: last.and_then(|a| a.model.clone()),
                ok: false,
                cached: false,
                error_code: Some(err.code()),
                duration,
                tokens: None,
            }
        }
    }
}

impl ChatCall {
    /// The record of `served` answering on `route` (by a provider, or by the cache when
    /// `served.cached`) after `duration`.
    pub(crate) fn answered(route: &str, served: &Served, duration: Duration) -> ChatCall {
        let usage = &served.response.usage;
        ChatCall {
            route: route.to_string(),
            provider: Some(served.provider.clone()),
            model: Some(served.response.model.clone()),
            ok: true,
            cached: served.cached,
            error_code: None,
            duration,
            tokens: Some(u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens)),
        }
    }
}

async fn walk(
    chats: &Chats,
    route: &Route,
    request: &ChatRequest,
    progress: Option<&dyn Progress>,
    started: Instant,
) -> Result<Served, ProviderError> {
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut last: Option<CallError> = None;
    let mut breaker_skips: Option<CallError> = None;
    for entry in &route.chain {
        if !entry.enabled {
            attempts.push(Attempt::skipped(entry, "disabled by flag"));
            continue;
        }
        let Some(live) = loaded_provider(&chats.plugins, &entry.provider) else {
            attempts.push(Attempt::skipped(entry, "not loaded"));
            continue;
        };
        let mut request = request.clone();
        if entry.model.is_some() {
            request.model = entry.model.clone();
        }
        for retry in 0..=route.retries {
            let permit = match chats.providers.breakers.acquire(&entry.provider) {
                Ok(permit) => permit,
                Err(refusal) => {
                    let reason = refusal.to_string();
                    debug!(route = %route.name, provider = %entry.provider, %reason, "skipping provider");
                    breaker_skips.get_or_insert_with(|| CallError::Plugin {
                        plugin: entry.provider.clone(),
                        code: "unavailable",
                        message: format!("circuit {reason}"),
                    });
                    attempts.push(Attempt {
                        retry,
                        ..Attempt::skipped(entry, reason)
                    });
                    break;
                }
            };
            if retry > 0 {
                tokio::time::sleep(backoff(route.backoff, retry)).await;
            }
            if let Some(progress) = progress {
                progress.serving(&entry.provider, request.model.as_deref());
            }
            let call_started = Instant::now();
            let (result, streamed) =
                attempt(&chats.plugins, &live, &request, route.timeout, progress).await;
            let elapsed_ms = Some(call_started.elapsed().as_secs_f64() * 1000.0);
            match result {
                Ok(response) => {
                    permit.succeeded();
                    attempts.push(Attempt {
                        provider: entry.provider.clone(),
                        model: request.model.clone(),
                        outcome: "ok",
                        code: None,
                        reason: None,
                        retry,
                        elapsed_ms,
                    });
                    if attempts.len() > 1 {
                        info!(route = %route.name, provider = %entry.provider, tried = attempts.len(), "served after failover");
                    }
                    return Ok(Served {
                        response,
                        provider: entry.provider.clone(),
                        route: route.name.clone(),
                        elapsed: started.elapsed(),
                        attempts,
                        cached: false,
                        cache_key: None,
                    });
                }
                Err(error) if error.is_invalid_input() => {
                    // The provider is healthy; the request is what is wrong.
                    permit.succeeded();
                    attempts.push(Attempt {
                        provider: entry.provider.clone(),
                        model: request.model.clone(),
                        outcome: "refused",
                        code: Some(error.code()),
                        reason: Some(error.to_string()),
                        retry,
                        elapsed_ms,
                    });
                    return Err(ProviderError::InvalidInput { error, attempts });
                }
                Err(error) => {
                    // A provider that could not be set up or whose budget is spent has not failed.
                    let counts = !matches!(error, CallError::Setup { .. } | CallError::Busy { .. });
                    if counts {
                        permit.failed(error.code(), &error.to_string());
                    } else {
                        drop(permit);
                    }
                    warn!(route = %route.name, provider = %entry.provider, retry, code = error.code(), cause = %error, "provider failed");
                    attempts.push(Attempt {
                        provider: entry.provider.clone(),
                        model: request.model.clone(),
                        outcome: "failed",
                        code: Some(error.code()),
                        reason: Some(error.to_string()),
                        retry,
                        elapsed_ms,
                    });
                    let retryable = retryable(&error);
                    last = Some(error);
                    if streamed {
                        // The listener has this provider's partial answer: no failover.
                        return Err(exhausted(route, last, attempts));
                    }
                    if !retryable {
                        break;
                    }
                }
            }
        }
    }
    match last.or(breaker_skips) {
        Some(last) => Err(exhausted(route, Some(last), attempts)),
        None => Err(ProviderError::NoProvider {
            route: route.name.clone(),
            attempts,
        }),
    }
}

fn exhausted(route: &Route, last: Option<CallError>, attempts: Vec<Attempt>) -> ProviderError {
    let last = last.unwrap_or_else(|| CallError::Setup {
        plugin: route.name.clone(),
        message: "no provider was tried".into(),
    });
    ProviderError::Exhausted {
        route: route.name.clone(),
        last,
        attempts,
    }
}

/// One call of `live` under `timeout`, forwarding its chunks to `progress`. Also says
/// whether any chunk reached the listener.
async fn attempt(
    plugins: &PluginHost,
    live: &LivePlugin,
    request: &ChatRequest,
    timeout: Duration,
    progress: Option<&dyn Progress>,
) -> (Result<ChatResponse, CallError>, bool) {
    let (tx, mut rx) = match progress {
        Some(_) => {
            // Bounded: a plugin that streams faster than the listener reads waits.
            let (tx, rx) = mpsc::channel::<String>(crate::runtime::call::CHUNK_QUEUE);
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let call = tokio::time::timeout(timeout, plugins.runtime().chat(&live.plugin, request, tx));
    tokio::pin!(call);
    let mut streamed = false;
    let outcome = loop {
        let next_chunk = async {
            match rx.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            Some(chunk) = next_chunk => {
                streamed = true;
                if let Some(progress) = progress {
                    progress.chunk(chunk);
                }
            }
            outcome = &mut call => break outcome,
        }
    };
    // Chunks sent just before the call returned.
    if let (Some(rx), Some(progress)) = (rx.as_mut(), progress) {
        while let Ok(chunk) = rx.try_recv() {
            streamed = true;
            progress.chunk(chunk);
        }
    }
    let result = outcome.unwrap_or_else(|_| {
        Err(CallError::Timeout {
            plugin: live.id().to_string(),
            ms: timeout.as_millis() as u64,
        })
    });
    (result, streamed)
}

/// Whether another attempt on the same provider may help: not when it denied the call
/// (bad key), ran out of memory (it would again) or could not be set up.
fn retryable(error: &CallError) -> bool {
    match error {
        CallError::Plugin { code, .. } => *code == "unavailable" || *code == "failed",
        CallError::Timeout { .. } | CallError::Trap { .. } => true,
        CallError::MemoryCap { .. }
        | CallError::Setup { .. }
        | CallError::Busy { .. }
        | CallError::Quota { .. } => false,
    }
}

/// The wait before retry `n` (1-based): `base * 2^(n-1)`, scaled by a random factor in
/// [0.5, 1.0] so that callers retrying together spread out, at most [`MAX_BACKOFF`].
fn backoff(base: Duration, n: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << (n - 1).min(16));
    let factor = 0.5 + 0.5 * random_unit();
    exp.mul_f64(factor).min(MAX_BACKOFF)
}

/// A random number in [0, 1).
fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
