//! Chat: how a message on a route becomes an answer. The route table, the failover walk
//! and its circuit breakers ([`providers`]), the response cache ([`cache`]), sessions and
//! the one chat entry point returning a stream of events ([`chat`]), and the chat sections
//! of the config file ([`settings`]).
//!
//! The crate depends on the plugins crate (the provider plugins are among the live set)
//! and the runtime, and on no HTTP framework, database or Socket.IO crate. What it needs
//! from the host comes through [`Chats`]: the live plugins, the routing state, the cache,
//! a [`Sessions`] store (the server's database) and a [`ChatObserver`] (the server's call
//! recorder and metrics). Each surface (HTTP, SSE, Socket.IO, `/v1`, jobs) maps the stream
//! to its own wire shape in the server.

use std::sync::Arc;
use std::time::Duration;

pub mod cache;
pub mod chat;
pub mod providers;
pub mod settings;

pub(crate) use sanctuary_runtime as runtime;
pub(crate) use sanctuary_runtime::{clock, manifest};

pub use chat::store::Sessions;

use cache::ChatCache;
use providers::Providers;
use sanctuary_plugins::PluginHost;

/// What a chat reaches: the handles, not the whole server (cheap to clone).
#[derive(Clone)]
pub struct Chats {
    /// The live plugins; the route's providers are looked up among them.
    pub plugins: Arc<PluginHost>,
    /// Routes, breakers and recent outcomes.
    pub providers: Arc<Providers>,
    /// The response cache (`[cache]`).
    pub cache: Arc<ChatCache>,
    /// Where sessions and their messages are kept.
    pub sessions: Arc<dyn Sessions>,
    /// Told of every chat call and cache lookup.
    pub observer: Arc<dyn ChatObserver>,
}

/// One chat call on a route, as the observer is told of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCall {
    /// The route (or the model name asked for on `/v1`).
    pub route: String,
    /// The provider that answered, or failed last.
    pub provider: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Whether a provider answered.
    pub ok: bool,
    /// Whether the answer came from the response cache.
    pub cached: bool,
    /// The failure's code, when none answered.
    pub error_code: Option<&'static str>,
    /// From the call to the answer, failovers included.
    pub duration: Duration,
    /// Prompt plus completion tokens.
    pub tokens: Option<u64>,
}

/// Told of what chats do, for the host's records and metrics. It must not block: it is
/// called on the chat's own path.
pub trait ChatObserver: Send + Sync {
    /// A chat call ended: answered (by a provider or the cache) or failed.
    fn chat_call(&self, call: ChatCall);

    /// The response cache was asked for an answer on `route`: `hit` says whether it had
    /// one.
    fn cache_lookup(&self, route: &str, hit: bool);
}

/// An observer that keeps nothing (benchmarks, unit tests).
impl ChatObserver for () {
    fn chat_call(&self, _: ChatCall) {}

    fn cache_lookup(&self, _: &str, _: bool) {}
}

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use futures::future::BoxFuture;
    use sanctuary_plugins::{Backing, PluginHost, Settings};
    use serde_json::Value;

    use super::*;
    use crate::chat::store::{MessageRow, NewMessage, SessionRow, StoreResult};
    use crate::settings::{BreakerConfig, CacheConfig};

    /// [`Chats`] over an empty plugin host in a temporary directory (keep it alive as long
    /// as the handle), the built-in routes, a disabled cache, sessions in memory and an
    /// observer that keeps every call.
    pub fn chats() -> (Chats, Arc<Calls>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::under(dir.path());
        let plugins = PluginHost::new(settings, Backing::none()).expect("a plugin host");
        let calls = Arc::new(Calls::default());
        let chats = Chats {
            plugins: Arc::new(plugins),
            providers: Arc::new(Providers::new(BTreeMap::new(), BreakerConfig::default())),
            cache: Arc::new(ChatCache::new(&CacheConfig::default())),
            sessions: Arc::new(Memory),
            observer: calls.clone(),
        };
        (chats, calls, dir)
    }

    /// The chat calls observed.
    #[derive(Default)]
    pub struct Calls(pub Mutex<Vec<ChatCall>>);

    impl ChatObserver for Calls {
        fn chat_call(&self, call: ChatCall) {
            self.0.lock().expect("calls").push(call);
        }

        fn cache_lookup(&self, _: &str, _: bool) {}
    }

    /// Sessions in memory: only what the unit tests touch (a session is never found, so
    /// a turn only writes).
    struct Memory;

    impl Sessions for Memory {
        fn session<'a>(&'a self, _: &'a str) -> BoxFuture<'a, StoreResult<Option<SessionRow>>> {
            Box::pin(async { Ok(None) })
        }

        fn sessions<'a>(
            &'a self,
            _: Option<&'a str>,
            _: i64,
        ) -> BoxFuture<'a, StoreResult<Vec<SessionRow>>> {
            Box::pin(async { Ok(Vec::new()) })
        }

        fn messages<'a>(
            &'a self,
            _: &'a str,
            _: i64,
        ) -> BoxFuture<'a, StoreResult<Vec<MessageRow>>> {
            Box::pin(async { Ok(Vec::new()) })
        }

        fn ensure_session<'a>(
            &'a self,
            id: &'a str,
            user_id: &'a str,
            title: Option<&'a str>,
            metadata: &'a Value,
        ) -> BoxFuture<'a, StoreResult<SessionRow>> {
            Box::pin(async move {
                Ok(SessionRow {
                    id: id.to_string(),
                    user_id: user_id.to_string(),
                    title: title.map(str::to_string),
                    created_at: crate::clock::timestamp(),
                    updated_at: crate::clock::timestamp(),
                    metadata: metadata.clone(),
                    message_count: 0,
                    last_message_at: None,
                })
            })
        }

        fn append<'a>(
            &'a self,
            _: &'a str,
            _: &'a [NewMessage<'a>],
            _: Option<&'a str>,
        ) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async { Ok(()) })
        }
    }
}
