//! Sanctuary's plugin runtime: wasmtime, the sandbox, manifests and their validation,
//! and the WIT versions it serves. It depends on no database, HTTP server or Socket.IO
//! crate: what it needs from the host that embeds it comes through small traits in
//! [`HostServices`] — a key-value store ([`kv::KvStore`]), system figures
//! ([`system::SystemFigures`]), a call observer ([`observe::CallObserver`]) and where
//! denials go ([`audit::Denials`]).
//!
//! One wasmtime [`Engine`] per process (pooling allocator, epoch interruption, on-disk
//! compile cache), one [`Linker`] holding WASI and the Sanctuary imports, and an
//! `InstancePre` per loaded plugin. Each call gets a fresh store whose sandbox, memory
//! budget and time cap come from the plugin's manifest, admitted by the plugin's
//! [`budget`] and run on the guest executor, never on the threads that answer requests
//! ([`call`]); a trap, timeout, cap or spent budget fails that call only. One submodule
//! per plugin kind holds its `bindgen!` output and typed calls.
//!
//! Several versions of the WIT package are served side by side. [`imports`] and the kind
//! modules are the latest version ([`manifest::WIT_VERSION`]), the host's native API;
//! each older version has a module (`v0_1_0`) with its own bindings that converts and
//! forwards to the latest, and a linker of its own. [`version`] reads which version a
//! component is built against, and the load picks that version's bindings.

pub mod audit;
pub mod clock;
pub mod ids;
pub mod kv;
pub mod logsafe;
pub mod manifest;
pub mod observe;
pub mod sandbox;
pub mod signing;
pub mod system;
pub mod wit;

pub mod budget;
pub mod call;
pub mod caller;
mod functions;
pub mod http;
pub mod imports;
pub mod mcp;
pub mod probe;
pub mod provider;
pub mod scout;
pub mod services;
pub mod state;
pub mod v0_1_0;
pub mod version;
mod warm;

pub use version::{ComponentApi, InspectError, api_version_of, top_level_names};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::PoolingAllocationConfig;
use wasmtime::component::{Component, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy};

use crate::manifest::{Kind, Manifest};
use crate::sandbox::Sandbox;
use budget::{Budget, Limits};
pub(crate) use call::CallOptions;
pub use services::HostServices;
use state::StoreState;

/// How often the epoch ticks; time caps are enforced to this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

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
    /// The plugin's budget refused the call before it ran: too many calls at once (and its
    /// queue full), or too many calls this minute. Not the caller's fault, nor a crash.
    #[error("plugin `{plugin}` is busy: {reason}")]
    Busy {
        /// Plugin id.
        plugin: String,
        /// Which budget: `max_concurrent` or `calls_per_minute`.
        budget: &'static str,
        /// What the budget allows, in words.
        reason: String,
    },
    /// The plugin tried to keep more in the key-value store than its quota allows; the
    /// write was refused and the call stopped.
    #[error("plugin `{plugin}` exceeded its storage quota ({reason}) and was stopped")]
    Quota {
        /// Plugin id.
        plugin: String,
        /// Which quota, with the figures.
        reason: String,
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
            CallError::Busy { .. } => "busy",
            CallError::Quota { .. } => "quota",
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
            | CallError::Busy { plugin, .. }
            | CallError::Quota { plugin, .. }
            | CallError::Setup { plugin, .. } => plugin,
        }
    }

    /// Whether a budget refused the call because of its rate (HTTP 429) rather than its
    /// concurrency (HTTP 503).
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            CallError::Busy {
                budget: "calls_per_minute",
                ..
            }
        )
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    pub stats: Arc<CallStats>,
    pub(crate) pre: Pre,
    pub(crate) core: Arc<PluginCore>,
}

/// What every call of a plugin needs, shared with the calls running on the guest
/// executor.
pub(crate) struct PluginCore {
    pub(crate) id: Arc<str>,
    pub(crate) kind: Kind,
    pub(crate) sandbox: Sandbox,
    pub(crate) network: Arc<[String]>,
    pub(crate) secrets: Arc<[String]>,
    pub(crate) config_json: Arc<str>,
    pub(crate) stats: Arc<CallStats>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) timeout_ms: u64,
    pub(crate) memory_mb: u32,
    /// Whether its manifest allows warm instances (`"instances": "reuse"`).
    pub(crate) reuse: bool,
    /// Its warm instances, when it allows them.
    pub(crate) warm: warm::WarmPool,
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

    /// Its budget as resolved at load (host defaults, manifest, operator overrides).
    pub fn budget(&self) -> &Budget {
        &self.core.budget
    }

    /// Warm instances waiting for their caller's next call (always 0 unless the manifest
    /// says `"instances": "reuse"`).
    pub fn warm_instances(&self) -> usize {
        self.core.warm.len()
    }
}

/// The runtime: engine, one linker per served API version, shared services.
pub struct Runtime {
    engine: Engine,
    /// Runs guest code, apart from the threads that answer requests.
    guest: call::GuestExecutor,
    /// The host's default budget and the operator's per-plugin overrides.
    budgets: budget::BudgetsConfig,
    /// WASI and the latest version's imports.
    linker: Linker<StoreState>,
    /// WASI and the 0.1.0 imports (which forward to the latest).
    linker_v0_1_0: Linker<StoreState>,
    services: Arc<HostServices>,
    data_dir: PathBuf,
}

/// Sizes of the instance pool: how many plugin calls may run at once.
const POOL_INSTANCES: u32 = 1000;

/// Linear memories, tables and core instances one component may contain: enough for
/// every toolchain we know (componentize-py included), few enough that one instance
/// cannot take a large share of the pool.
const MEMORIES_PER_COMPONENT: u32 = 8;
const TABLES_PER_COMPONENT: u32 = 32;
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;

/// Bytes of each linear memory, table and async stack kept resident when a slot is freed:
/// reset with `memset` instead of `madvise`, so the next call in that slot takes no page
/// faults for them (see BENCHMARKS.md).
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
const TABLE_KEEP_RESIDENT: usize = 64 << 10;
const STACK_KEEP_RESIDENT: usize = 128 << 10;

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Threads that run guest code (default: one per CPU, at least two).
    pub guest_threads: Option<usize>,
    /// The host's default budget and per-plugin overrides (`[budgets]`).
    pub budgets: budget::BudgetsConfig,
}

impl Runtime {
    /// Creates the engine (compile cache in `cache_dir` when given) and the linker, and
    /// starts the epoch ticker thread and the guest executor, with default options.
    pub fn new(
        cache_dir: Option<&Path>,
        data_dir: &Path,
        services: Arc<HostServices>,
    ) -> anyhow::Result<Runtime> {
        Runtime::with_options(cache_dir, data_dir, services, RuntimeOptions::default())
    }

    /// [`Runtime::new`] with `options`.
    pub fn with_options(
        cache_dir: Option<&Path>,
        data_dir: &Path,
        services: Arc<HostServices>,
        options: RuntimeOptions,
    ) -> anyhow::Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size((manifest::MAX_MEMORY_MB as usize) << 20)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            .async_stack_keep_resident(STACK_KEEP_RESIDENT);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // New builds of a plugin compile only the functions that changed (hot swaps).
        config
            .enable_incremental_compilation(Arc::new(functions::FunctionCache::default()))
            .map_err(|e| anyhow::anyhow!("wasmtime incremental compilation: {e}"))?;
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
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            // The pool reserves its address space up front (terabytes of virtual memory,
            // almost none of it resident). Where that reservation is refused (a `ulimit -v`,
            // a container's cap, many runtimes in one process) the host still serves:
            // instances are then allocated on demand, a few microseconds slower per fresh
            // instance, with the same per-plugin memory caps.
            Err(e) => {
                warn!(
                    cause = %e,
                    "could not reserve the instance pool; plugins run with on-demand allocation"
                );
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config).map_err(|e| anyhow::anyhow!("wasmtime engine: {e}"))?
            }
        };

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
        let guest = call::GuestExecutor::new(
            options
                .guest_threads
                .unwrap_or_else(call::GuestExecutor::default_threads),
        )?;
        Ok(Runtime {
            engine,
            guest,
            budgets: options.budgets,
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

        // 0.2.x: the latest bindings (semver-compatible names); 0.1.0: its converter.
        let latest = manifest::is_native(&api.version);
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
        // `check_component_api` admitted only served versions: 0.2.x, or 0.1.0.
        let pre = match (kind, latest) {
            (Kind::McpServer, true) => Pre::Mcp(mcp::McpPre::Latest(
                mcp::LatestPre::new(instance_pre, api.exports_interface(mcp::EXT_INTERFACE))
                    .map_err(typed)?,
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
        let limits = Limits::resolve(
            self.budgets.defaults(),
            manifest.budgets.as_ref(),
            self.budgets.plugin.get(&manifest.id),
        );
        let stats = Arc::new(CallStats::default());
        let core = Arc::new(PluginCore {
            id: manifest.id.as_str().into(),
            kind: manifest.kind,
            sandbox,
            network: manifest.permissions.network.clone().into(),
            secrets: manifest.permissions.secrets.clone().into(),
            config_json: config.to_string().into(),
            stats: stats.clone(),
            budget: Arc::new(Budget::new(limits)),
            timeout_ms: manifest.permissions.timeout_ms,
            memory_mb: manifest.permissions.memory_mb,
            reuse: manifest.instances == manifest::Instances::Reuse,
            warm: warm::WarmPool::default(),
        });
        Ok(Plugin {
            manifest,
            sha256,
            api_version: api.version.to_string(),
            stats,
            pre,
            core,
        })
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
