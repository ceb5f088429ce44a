//! The WebAssembly runtime: one wasmtime [`Engine`] per process (pooling allocator, epoch
//! interruption, on-disk compile cache), one [`Linker`] holding WASI and the Sanctuary
//! imports, and an `InstancePre` per loaded plugin. Each call gets a fresh store whose
//! sandbox, memory cap and time cap come from the plugin's manifest; a trap, timeout or
//! cap fails that call only. One submodule per plugin kind holds its `bindgen!` output and
//! typed calls. Nothing outside this module touches wasmtime.
//!
//! Several versions of the WIT package are served side by side. [`imports`] and the kind
//! modules are the latest version ([`manifest::WIT_VERSION`]), the host's native API;
//! each older version has a module (`v0_1_0`) with its own bindings that converts and
//! forwards to the latest, and a linker of its own. [`version`] reads which version a
//! component is built against, and the load picks that version's bindings.

pub mod http;
pub mod imports;
pub mod mcp;
pub mod probe;
pub mod provider;
pub mod scout;
pub mod state;
pub mod v0_1_0;
pub mod version;

pub use version::{ComponentApi, InspectError, api_version_of, top_level_names};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy};
use wasmtime::{PoolingAllocationConfig, Store, Trap};

use crate::db::Db;
use crate::manifest::{self, Kind, Manifest};
use crate::sandbox::Sandbox;
use crate::system::Sampler;
use state::{HostContext, Limiter, StoreState};

/// How often the epoch ticks; time caps are enforced to this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Slack given to a call beyond its time cap before the wall-clock guard fires (the epoch
/// trap normally fires first; the guard covers time spent awaiting host functions).
const WALL_CLOCK_GRACE: Duration = Duration::from_millis(250);

/// Log lines one call may write through `host.log`.
const LOG_BUDGET: u32 = 200;

/// Errors loading a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is invalid or incompatible.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// The component's bytes do not hash to the manifest's sha256.
    #[error("plugin `{id}`: sha256 mismatch (manifest says {expected}, component is {actual})")]
    Checksum {
        /// Plugin id.
        id: String,
        /// From the manifest.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// Not a valid component, or it does not compile.
    #[error("plugin `{id}`: not a loadable WebAssembly component: {reason}")]
    Compile {
        /// Plugin id.
        id: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// The component implements another world than its manifest's kind.
    #[error("plugin `{id}`: manifest says kind `{expected}` but the component {found}")]
    WrongWorld {
        /// Plugin id.
        id: String,
        /// The manifest's kind.
        expected: Kind,
        /// What it exports instead.
        found: String,
    },
    /// The operator disabled it.
    #[error("plugin `{0}` is disabled")]
    Disabled(String),
    /// The installation refuses it (asking more than was granted, no record).
    #[error("plugin `{id}`: {reason}")]
    Refused {
        /// Plugin id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The component imports something the host does not provide.
    #[error("plugin `{id}`: cannot be linked: {reason}")]
    Link {
        /// Plugin id.
        id: String,
        /// Which import is missing or mistyped.
        reason: String,
    },
}

/// Why a plugin call failed. Every message names the plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with its own typed error.
    #[error("plugin `{plugin}` refused the call ({code}): {message}")]
    Plugin {
        /// Plugin id.
        plugin: String,
        /// `invalid-input`, `denied`, `unavailable` or `failed`.
        code: &'static str,
        /// The plugin's message.
        message: String,
    },
    /// The call ran past the plugin's time cap and was stopped.
    #[error("plugin `{plugin}` timed out after {ms} ms and was stopped")]
    Timeout {
        /// Plugin id.
        plugin: String,
        /// The cap.
        ms: u64,
    },
    /// The plugin tried to use more memory than its cap.
    #[error("plugin `{plugin}` exceeded its memory cap of {mb} MiB and was stopped")]
    MemoryCap {
        /// Plugin id.
        plugin: String,
        /// The cap.
        mb: u32,
    },
    /// The plugin crashed (a WebAssembly trap: a panic, `unreachable`, ...).
    #[error("plugin `{plugin}` crashed: {message}")]
    Trap {
        /// Plugin id.
        plugin: String,
        /// What the trap was.
        message: String,
    },
    /// The call could not be set up (sandbox, instantiation, pool exhausted).
    #[error("plugin `{plugin}` could not be started: {message}")]
    Setup {
        /// Plugin id.
        plugin: String,
        /// Why.
        message: String,
    },
}

impl CallError {
    /// A short code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Plugin { code, .. } => code,
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryCap { .. } => "memory_cap",
            CallError::Trap { .. } => "trap",
            CallError::Setup { .. } => "setup",
        }
    }

    /// The id of the plugin that failed.
    pub fn plugin(&self) -> &str {
        match self {
            CallError::Plugin { plugin, .. }
            | CallError::Timeout { plugin, .. }
            | CallError::MemoryCap { plugin, .. }
            | CallError::Trap { plugin, .. }
            | CallError::Setup { plugin, .. } => plugin,
        }
    }

    /// Whether the plugin itself judged the caller's input bad.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            CallError::Plugin {
                code: "invalid-input",
                ..
            }
        )
    }
}

/// What other plugins may know about an installed plugin (`host.installed-plugins`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginSummary {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Tool names, for mcp-server plugins.
    pub tools: Vec<String>,
}

/// Services shared by every store: the database (plugin key-value store), system figures,
/// and the directory of installed plugins.
pub struct HostServices {
    db: Option<Db>,
    /// Machine figures for the `system` interface.
    pub system: Arc<Sampler>,
    directory: RwLock<Arc<Vec<PluginSummary>>>,
    /// Key-value store used when no database is attached (benchmarks, unit tests).
    memory_kv: tokio::sync::Mutex<BTreeMap<(String, String), String>>,
    /// Secrets plugins may ask for, by name (host environment and secrets file).
    secrets: RwLock<HashMap<String, String>>,
    /// Where every call is recorded (`/api/analytics`, `/metrics`), once set.
    recorder: std::sync::OnceLock<crate::telemetry::Recorder>,
}

impl HostServices {
    /// Services backed by `db` (or an in-memory key-value store when `None`).
    pub fn new(db: Option<Db>, system: Arc<Sampler>) -> HostServices {
        HostServices {
            db,
            system,
            directory: RwLock::new(Arc::new(Vec::new())),
            memory_kv: tokio::sync::Mutex::new(BTreeMap::new()),
            secrets: RwLock::new(HashMap::new()),
            recorder: std::sync::OnceLock::new(),
        }
    }

    /// Records every later plugin call through `recorder` (the first one set stays).
    pub fn set_recorder(&self, recorder: crate::telemetry::Recorder) {
        let _ = self.recorder.set(recorder);
    }

    /// The database, when attached.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    /// The installed plugins as plugins see them.
    pub fn directory(&self) -> Arc<Vec<PluginSummary>> {
        match self.directory.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the directory (called whenever the live set changes).
    pub fn set_directory(&self, plugins: Vec<PluginSummary>) {
        let mut guard = match self.directory.write() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(plugins);
    }

    /// Sets secrets available to plugins that declare them (in addition to the host's
    /// environment).
    pub fn set_secrets(&self, secrets: HashMap<String, String>) {
        if let Ok(mut guard) = self.secrets.write() {
            *guard = secrets;
        }
    }

    /// The declared secrets that are set, from the secrets store or the environment.
    fn resolve_secrets(&self, declared: &[String]) -> BTreeMap<String, String> {
        let store = self.secrets.read().ok();
        declared
            .iter()
            .filter_map(|name| {
                let value = store
                    .as_ref()
                    .and_then(|s| s.get(name).cloned())
                    .or_else(|| std::env::var(name).ok())?;
                Some((name.clone(), value))
            })
            .collect()
    }

    async fn kv_get(&self, plugin: &str, key: &str) -> Option<String> {
        match &self.db {
            Some(db) => db
                .kv_get(plugin, key)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv get failed"))
                .ok()
                .flatten(),
            None => self
                .memory_kv
                .lock()
                .await
                .get(&(plugin.to_string(), key.to_string()))
                .cloned(),
        }
    }

    async fn kv_set(&self, plugin: &str, key: &str, value: &str) {
        match &self.db {
            Some(db) => {
                if let Err(e) = db.kv_set(plugin, key, value).await {
                    warn!(plugin, cause = %e, "kv set failed");
                }
            }
            None => {
                self.memory_kv
                    .lock()
                    .await
                    .insert((plugin.to_string(), key.to_string()), value.to_string());
            }
        }
    }

    async fn kv_delete(&self, plugin: &str, key: &str) -> bool {
        match &self.db {
            Some(db) => db
                .kv_delete(plugin, key)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv delete failed"))
                .unwrap_or(false),
            None => self
                .memory_kv
                .lock()
                .await
                .remove(&(plugin.to_string(), key.to_string()))
                .is_some(),
        }
    }

    async fn kv_list(&self, plugin: &str, prefix: &str) -> Vec<String> {
        match &self.db {
            Some(db) => db
                .kv_list(plugin, prefix)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv list failed"))
                .unwrap_or_default(),
            None => self
                .memory_kv
                .lock()
                .await
                .keys()
                .filter(|(p, k)| p == plugin && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect(),
        }
    }
}

/// Counters of one plugin's calls.
#[derive(Debug, Default)]
pub struct CallStats {
    /// Calls started.
    pub calls: AtomicU64,
    /// Calls that failed in any way.
    pub errors: AtomicU64,
    /// Calls stopped at the time cap.
    pub timeouts: AtomicU64,
    /// Calls that trapped or hit the memory cap.
    pub crashes: AtomicU64,
    /// Total time spent in calls, in microseconds.
    pub busy_micros: AtomicU64,
}

/// A snapshot of [`CallStats`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StatsSnapshot {
    /// Calls started.
    pub calls: u64,
    /// Calls failed.
    pub errors: u64,
    /// Calls timed out.
    pub timeouts: u64,
    /// Calls crashed.
    pub crashes: u64,
    /// Mean call time in milliseconds.
    pub mean_ms: f64,
}

impl CallStats {
    /// Reads the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let calls = self.calls.load(Ordering::Relaxed);
        let busy = self.busy_micros.load(Ordering::Relaxed);
        StatsSnapshot {
            calls,
            errors: self.errors.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            crashes: self.crashes.load(Ordering::Relaxed),
            mean_ms: if calls == 0 {
                0.0
            } else {
                busy as f64 / calls as f64 / 1000.0
            },
        }
    }
}

/// The pre-linked component of one plugin, typed by its world and API version.
pub(crate) enum Pre {
    Mcp(mcp::McpPre),
    Provider(provider::ProviderPre),
    Scout(scout::ScoutPre),
    Probe(probe::ProbePre),
}

/// A compiled, linked, ready-to-call plugin. Cheap to share (`Arc`); every call
/// instantiates a fresh store from its `InstancePre`.
pub struct Plugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// sha256 of its component.
    pub sha256: String,
    /// The WIT version its component is built against (e.g. `0.1.0`).
    pub api_version: String,
    /// Call counters.
    pub stats: CallStats,
    pub(crate) pre: Pre,
    sandbox: Sandbox,
    config_json: Arc<str>,
}

impl Plugin {
    /// The plugin's id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The plugin's kind.
    pub fn kind(&self) -> Kind {
        self.manifest.kind
    }

    /// Replaces the operator configuration handed to the plugin.
    pub fn with_config(mut self, config: &serde_json::Value) -> Plugin {
        self.config_json = config.to_string().into();
        self
    }
}

/// Per-call options.
#[derive(Default)]
pub(crate) struct CallOptions<'a> {
    /// Project directory to mount at `/project` (scout checks).
    pub project: Option<&'a Path>,
    /// Where streamed chunks go.
    pub progress: Option<mpsc::UnboundedSender<String>>,
}

/// The runtime: engine, one linker per served API version, shared services.
pub struct Runtime {
    engine: Engine,
    /// WASI and the latest version's imports.
    linker: Linker<StoreState>,
    /// WASI and the 0.1.0 imports (which forward to the latest).
    linker_v0_1_0: Linker<StoreState>,
    services: Arc<HostServices>,
    data_dir: PathBuf,
}

/// Sizes of the instance pool: how many plugin calls may run at once.
const POOL_INSTANCES: u32 = 1000;

impl Runtime {
    /// Creates the engine (compile cache in `cache_dir` when given) and the linker, and
    /// starts the epoch ticker thread.
    pub fn new(
        cache_dir: Option<&Path>,
        data_dir: &Path,
        services: Arc<HostServices>,
    ) -> anyhow::Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size((manifest::MAX_MEMORY_MB as usize) << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir)?;
            // wasmtime's cache wants an absolute path; `./data/cache` is the default.
            let dir = &std::path::absolute(dir)?;
            let mut cache_config = CacheConfig::new();
            cache_config.with_directory(dir);
            let cache = Cache::new(cache_config)
                .map_err(|e| anyhow::anyhow!("wasmtime compile cache in {}: {e}", dir.display()))?;
            config.cache(Some(cache));
        }
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("wasmtime engine: {e}"))?;

        let mut linker = wasi_linker(&engine)?;
        imports::HostImports::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow::anyhow!("link host imports: {e}"))?;
        let mut linker_v0_1_0 = wasi_linker(&engine)?;
        v0_1_0::add_to_linker(&mut linker_v0_1_0)
            .map_err(|e| anyhow::anyhow!("link 0.1.0 host imports: {e}"))?;

        start_epoch_ticker(&engine);
        Ok(Runtime {
            engine,
            linker,
            linker_v0_1_0,
            services,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The shared host services.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// Loads a plugin: validates its manifest, checks its API requirement and sha256,
    /// reads which API version and world the component implements (refusing a version
    /// this host does not serve, or one the manifest's `api` does not admit), compiles
    /// the component (or takes it from the cache), and pre-links it with that version's
    /// bindings. `config` is the operator's configuration for it.
    pub async fn load(
        &self,
        manifest: Manifest,
        bytes: Vec<u8>,
        config: &serde_json::Value,
    ) -> Result<Plugin, LoadError> {
        manifest.validate()?;
        manifest.check_api()?;
        let id = manifest.id.clone();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = &manifest.sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::Checksum {
                id,
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let api = api_version_of(&bytes).map_err(|e| match e {
            InspectError::NotAComponent(reason) => LoadError::Compile {
                id: id.clone(),
                reason,
            },
            other => LoadError::WrongWorld {
                id: id.clone(),
                expected: manifest.kind,
                found: other.to_string(),
            },
        })?;
        manifest.check_component_api(&api.version)?;
        let Some(kind) = api.kind else {
            return Err(LoadError::WrongWorld {
                id,
                expected: manifest.kind,
                found: "exports no Sanctuary plugin interface".into(),
            });
        };
        if kind != manifest.kind {
            return Err(LoadError::WrongWorld {
                id,
                expected: manifest.kind,
                found: format!("implements `{kind}`"),
            });
        }

        let engine = self.engine.clone();
        let started = Instant::now();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(|e| LoadError::Compile {
                id: id.clone(),
                reason: e.to_string(),
            })?
            .map_err(|e| LoadError::Compile {
                id: id.clone(),
                reason: format!("{e:#}"),
            })?;
        debug!(plugin = %id, api = %api.version, elapsed = ?started.elapsed(), "component compiled");

        let latest = api.version == manifest::WIT_VERSION;
        let linker = if latest {
            &self.linker
        } else {
            &self.linker_v0_1_0
        };
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                id: id.clone(),
                reason: format!("{e:#}"),
            })?;
        let typed = |e: wasmtime::Error| LoadError::WrongWorld {
            id: id.clone(),
            expected: kind,
            found: format!("does not match the world: {e:#}"),
        };
        // `check_component_api` admitted only served versions: the latest, or 0.1.0.
        let pre = match (kind, latest) {
            (Kind::McpServer, true) => Pre::Mcp(mcp::McpPre::Latest(
                mcp::McpServerPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::McpServer, false) => Pre::Mcp(mcp::McpPre::V0_1_0(
                v0_1_0::mcp::McpServerPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::AiProvider, true) => Pre::Provider(provider::ProviderPre::Latest(
                provider::AiProviderPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::AiProvider, false) => Pre::Provider(provider::ProviderPre::V0_1_0(
                v0_1_0::provider::AiProviderPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::ScoutCheck, true) => Pre::Scout(scout::ScoutPre::Latest(
                scout::ScoutCheckPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::ScoutCheck, false) => Pre::Scout(scout::ScoutPre::V0_1_0(
                v0_1_0::scout::ScoutCheckPre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::HealthProbe, true) => Pre::Probe(probe::ProbePre::Latest(
                probe::HealthProbePre::new(instance_pre).map_err(typed)?,
            )),
            (Kind::HealthProbe, false) => Pre::Probe(probe::ProbePre::V0_1_0(
                v0_1_0::probe::HealthProbePre::new(instance_pre).map_err(typed)?,
            )),
        };
        let sandbox = Sandbox::new(&manifest.permissions, &self.data_dir);
        Ok(Plugin {
            manifest,
            sha256,
            api_version: api.version.to_string(),
            stats: CallStats::default(),
            pre,
            sandbox,
            config_json: config.to_string().into(),
        })
    }

    /// A fresh store for one call of `plugin`, with its sandbox, caps and host context.
    pub(crate) fn store(
        &self,
        plugin: &Plugin,
        opts: CallOptions<'_>,
    ) -> Result<Store<StoreState>, CallError> {
        let (wasi, stderr) =
            plugin
                .sandbox
                .wasi_ctx(opts.project)
                .map_err(|e| CallError::Setup {
                    plugin: plugin.id().to_string(),
                    message: e.to_string(),
                })?;
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_policy: http::HttpPolicy::new(
                plugin.id().into(),
                plugin.manifest.permissions.network.clone().into(),
            ),
            limiter: Limiter {
                memory_bytes: plugin.sandbox.memory_bytes(),
                table_elements: 100_000,
                hit_memory_cap: false,
            },
            host: HostContext {
                plugin_id: plugin.id().into(),
                kind: plugin.kind(),
                config_json: plugin.config_json.clone(),
                secrets: Arc::new(
                    self.services
                        .resolve_secrets(&plugin.manifest.permissions.secrets),
                ),
                progress: opts.progress,
                services: self.services.clone(),
                stderr,
                log_budget: LOG_BUDGET,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        self.rearm(plugin, &mut store);
        Ok(store)
    }

    /// Starts a call's clock: the epoch deadline from the plugin's time cap, and the count.
    pub(crate) fn rearm(&self, plugin: &Plugin, store: &mut Store<StoreState>) {
        let ticks = plugin.sandbox.timeout().as_millis() / EPOCH_TICK.as_millis() + 1;
        store.set_epoch_deadline(ticks as u64);
        plugin.stats.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs `call` (instantiate + one export call, borrowing the store) under the plugin's
    /// wall-clock cap. `None` means the cap ran out.
    pub(crate) async fn capped<F: Future>(plugin: &Plugin, call: F) -> Option<F::Output> {
        tokio::time::timeout(plugin.sandbox.timeout() + WALL_CLOCK_GRACE, call)
            .await
            .ok()
    }

    /// [`Runtime::finish_as`] for the kind's main operation (`chat`, `probe`, `check`,
    /// `call`).
    pub(crate) fn finish<T>(
        &self,
        plugin: &Plugin,
        store: Store<StoreState>,
        started: Instant,
        outcome: Option<wasmtime::Result<Result<T, imports::types::PluginError>>>,
    ) -> Result<T, CallError> {
        let operation = match plugin.kind() {
            Kind::AiProvider => "chat",
            Kind::HealthProbe => "probe",
            Kind::ScoutCheck => "check",
            Kind::McpServer => "call",
        };
        self.finish_as(operation, plugin, store, started, outcome)
    }

    /// Turns every way a call can fail into a [`CallError`] naming the plugin, logs guest
    /// stderr, and counts and records the outcome under `operation` (a tool name, `chat`,
    /// ...). Takes the store by value: after a trap its instance is dead and must not be
    /// reused.
    pub(crate) fn finish_as<T>(
        &self,
        operation: &str,
        plugin: &Plugin,
        store: Store<StoreState>,
        started: Instant,
        outcome: Option<wasmtime::Result<Result<T, imports::types::PluginError>>>,
    ) -> Result<T, CallError> {
        let id = plugin.id().to_string();
        let stats = &plugin.stats;
        stats
            .busy_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);

        let stderr = store.data().host.stderr.contents();
        if !stderr.is_empty() {
            let text = String::from_utf8_lossy(&stderr);
            warn!(plugin = %id, stderr = %text.trim_end(), "plugin wrote to stderr");
        }

        let result = match outcome {
            None => Err(CallError::Timeout {
                plugin: id.clone(),
                ms: plugin.manifest.permissions.timeout_ms,
            }),
            Some(Ok(Ok(value))) => Ok(value),
            Some(Ok(Err(plugin_error))) => {
                let (code, message) = imports::plugin_error_parts(plugin_error);
                Err(CallError::Plugin {
                    plugin: id.clone(),
                    code,
                    message,
                })
            }
            Some(Err(trap)) => Err(classify_trap(plugin, &store, trap)),
        };
        if let Err(e) = &result {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            match e {
                CallError::Timeout { .. } => {
                    stats.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                CallError::Trap { .. } | CallError::MemoryCap { .. } => {
                    stats.crashes.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            match e {
                CallError::Plugin { .. } => debug!(plugin = %id, cause = %e, "call refused"),
                _ => warn!(plugin = %id, kind = %plugin.kind(), cause = %e, "call failed"),
            }
        }
        if let Some(recorder) = self.services.recorder.get() {
            recorder.plugin_call(crate::telemetry::PluginCall {
                plugin: id,
                kind: plugin.kind().to_string(),
                operation: operation.to_string(),
                outcome: crate::telemetry::Outcome::of(&result),
                error_code: result.as_ref().err().map(CallError::code),
                duration: started.elapsed(),
            });
        }
        result
    }
}

/// Turns a wasmtime error from a call into the failure it was.
pub(crate) fn classify_trap(
    plugin: &Plugin,
    store: &Store<StoreState>,
    error: wasmtime::Error,
) -> CallError {
    let id = plugin.id().to_string();
    if store.data().limiter.hit_memory_cap {
        return CallError::MemoryCap {
            plugin: id,
            mb: plugin.manifest.permissions.memory_mb,
        };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return CallError::Timeout {
                plugin: id,
                ms: plugin.manifest.permissions.timeout_ms,
            };
        }
        return CallError::Trap {
            plugin: id,
            message: trap.to_string(),
        };
    }
    let message = format!("{error:#}");
    // The first line is the cause; the backtrace that follows is for the log, not clients.
    let headline = message.lines().next().unwrap_or("trap").to_string();
    debug!(plugin = %id, detail = %message, "trap detail");
    CallError::Trap {
        plugin: id,
        message: headline,
    }
}

/// A linker holding WASI 0.2 (with outgoing HTTP, policed by [`http::HttpPolicy`]).
fn wasi_linker(engine: &Engine) -> anyhow::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("link WASI: {e}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("link WASI HTTP: {e}"))?;
    Ok(linker)
}

/// Increments the engine's epoch every [`EPOCH_TICK`] on an OS thread (a tokio task would
/// starve while a guest spins on the same worker). Stops when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("sanctuary-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        warn!(cause = %e, "could not start the epoch ticker; plugin time caps rely on the wall-clock guard");
    }
}

/// The error for calling a plugin through the wrong kind's entry point.
pub(crate) fn wrong_kind(plugin: &Plugin, wanted: &str) -> CallError {
    CallError::Setup {
        plugin: plugin.id().to_string(),
        message: format!("is a `{}` plugin, not `{wanted}`", plugin.kind()),
    }
}
