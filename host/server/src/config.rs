//! The host's one configuration struct, resolved from three layers: a flag or its
//! `SANCTUARY_*` environment variable beats the TOML config file, which beats the built-in
//! default. The file is strict (`deny_unknown_fields` everywhere), so a typo is an error
//! naming the key rather than a silently ignored setting. `sanctuary.example.toml` at the
//! repository root documents every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::cli::ServeArgs;

mod log;
mod seeds;

pub use log::{LogConfig, LogFormat};
pub use seeds::{JwtConfig, OropendolaConfig, PlanConfig, SocketIoConfig, SubscriptionsConfig};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "sanctuary.toml";
/// The environment variable holding the admin token (never read from the file).
pub const ADMIN_TOKEN_ENV: &str = "SANCTUARY_ADMIN_TOKEN";

const DEFAULT_HOST: &str = "0.0.0.0";
const DEFAULT_PORT: u16 = 5000;
const DEFAULT_DATA_DIR: &str = "./data";

/// The resolved configuration of a running host.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Database, installed plugins and caches live here; created by [`Config::load`].
    pub data_dir: PathBuf,
    /// Database URL, never empty: `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Directory for compiled-component caches.
    pub cache_dir: PathBuf,
    /// Token for operations that change the installation; from `SANCTUARY_ADMIN_TOKEN` only.
    pub admin_token: Option<String>,
    /// Cross-origin policy for browsers.
    pub cors: CorsConfig,
    /// Per-plugin configuration (`[plugins.<id>]`), handed to the plugin as JSON.
    pub plugins: BTreeMap<String, serde_json::Value>,
    /// Projects the scout agent reports on.
    pub scout: ScoutConfig,
    /// Marketplace index (`registry.json`) to install from; `None` means the registry
    /// embedded in the binary (the first-party plugins).
    pub registry: Option<PathBuf>,
    /// The config file that was loaded, if any.
    pub source: Option<PathBuf>,
    /// Chat routes (`[routes.<name>]`) set in the file; the built-in ones
    /// ([`crate::providers`]) apply to names the file does not set.
    pub routes: BTreeMap<String, RouteConfig>,
    /// Circuit-breaker settings shared by every provider (`[breaker]`).
    pub breaker: BreakerConfig,
    /// File of secrets handed to the plugins that declare them (TOML, or `.env`-style
    /// `NAME=value` lines); the host environment is consulted too.
    pub secrets_file: Option<PathBuf>,
    /// Who may read, chat, and how long sessions last (`[auth]`).
    pub auth: AuthConfig,
    /// Requests per second per client (`[rate_limit]`, `--rate-limit`); off by default.
    pub rate_limit: RateLimitConfig,
    /// Chat response cache (`[cache]`), off by default.
    pub cache: CacheConfig,
    /// Background content-generation jobs (`[jobs]`).
    pub jobs: JobsConfig,
    /// Plugin signature policy (`[signatures]`): trusted keys, whether to require them.
    pub signatures: crate::signing::SignaturesConfig,
    /// `/health`: probe deadline, result sharing, how long pressure must last (`[health]`).
    pub health: HealthConfig,
    /// Call recording retention and roll-up (`[telemetry]`).
    pub telemetry: TelemetryConfig,
    /// What plugins may never be granted (`[security]`, `--reserved-env`).
    pub security: SecurityConfig,
    /// Per-plugin budgets (`[budgets]`): the host's defaults and per-plugin overrides.
    pub budgets: BudgetsConfig,
    /// The plugin runtime (`[runtime]`): threads that run guest code.
    pub runtime: RuntimeConfig,
    /// Connection limits and the batch deadline (`[server]`).
    pub server: ServerConfig,
    /// Socket.IO engine limits (`[socketio]`).
    pub socketio: SocketIoConfig,
    /// Subscription plans (`[[plans]]`).
    pub plans: Vec<PlanConfig>,
    /// Which user has which plan (`[subscriptions]`).
    pub subscriptions: SubscriptionsConfig,
    /// Oropendola workspace and file bounds (`[oropendola]`).
    pub oropendola: OropendolaConfig,
    /// Bearer JWTs of the hybrid backend's API (`[jwt]`).
    pub jwt: JwtConfig,
    /// Log format and access log (`[log]`, `--log-format`, `--access-log`).
    pub log: LogConfig,
}

/// Per-plugin budgets (`[budgets]`): defined beside the budgets they configure.
pub use sanctuary_runtime::budget::BudgetsConfig;

/// What plugins may never be granted (`[security]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Names (env vars and secrets) reserved for the host beyond `SANCTUARY_*`, which is
    /// always reserved: a plugin asking for one is refused at install and at load.
    pub reserved_env: Vec<String>,
}

/// The plugin runtime (`[runtime]`). Takes effect at the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Threads of the executor that runs guest code, apart from the threads that answer
    /// requests (default: the number of CPUs, at least 2).
    pub guest_threads: Option<usize>,
}

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

/// Background content-generation jobs (`[jobs]`, see [`crate::jobs`]). Takes effect at the
/// next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs run at once (default 2); the others wait, `pending`, in the order they came.
    pub concurrency: u32,
    /// Runs a job may start (default 3): a job interrupted by a restart after this many is
    /// marked `failed` instead of being run again.
    pub max_attempts: u32,
}

impl Default for JobsConfig {
    fn default() -> JobsConfig {
        JobsConfig {
            concurrency: 2,
            max_attempts: 3,
        }
    }
}

/// Authentication settings (`[auth]`). Changing the installation always needs a key or a
/// session with the right scope; these say what anonymous clients may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether GET routes answer without a credential (default true). When false, only
    /// `/`, `/health`, `/api/dev/ping` and `/socket.io` do.
    pub open_read: bool,
    /// Whether chat (HTTP and Socket.IO `mama_bear_chat`) works without a credential
    /// (default true: the seeds' frontends send none).
    pub open_chat: bool,
    /// Whether plugin tools may be called without a credential (default true, for MCP
    /// clients and the terminal): the MCP endpoint `/mcp`, the REST tool calls
    /// `POST /api/mcp/servers/{name}/tools/{tool}` and Socket.IO `terminal_input`.
    pub open_tools: bool,
    /// How long a login session lasts, in hours (default 168, a week).
    pub session_hours: u64,
    /// Whether the `sid` cookie is marked `Secure` (HTTPS only; default false).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            open_read: true,
            open_chat: true,
            open_tools: true,
            session_hours: 168,
            secure_cookies: false,
        }
    }
}

/// Rate limits (`[rate_limit]`): a bucket per API key, session or client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second per client; 0 (the default) turns limits off.
    pub per_second: u32,
    /// Requests a client may make at once (default twice `per_second`).
    pub burst: Option<u32>,
    /// Whether the client address is the first `X-Forwarded-For` entry (set this only
    /// behind a reverse proxy that writes the header; default false).
    pub trust_forwarded: bool,
}

/// Connection limits and deadlines (`[server]`; flags `--header-timeout`,
/// `--body-timeout`, `--idle-timeout`, `--max-connections`, `--batch-timeout`). Take effect
/// at the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client has to send a request's head, from its first byte (default 15).
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body, from the request's start (default 60).
    pub body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request (default 60).
    pub idle_timeout_secs: u64,
    /// Connections open at once (default 10000, lowered to fit the open-files limit); more
    /// are answered 503 and closed.
    pub max_connections: usize,
    /// Seconds one `POST /api/batch` may run in all (default 30); requests past it answer
    /// 504 inside the batch.
    pub batch_timeout_secs: u64,
    /// MCP sessions (`/mcp`, protocol revisions up to 2025-11-25) open at once (default
    /// 1000); an `initialize` over it is answered 503 with a JSON-RPC error.
    pub mcp_max_sessions: usize,
    /// MCP sessions one client (API key, session or address) may hold (default 16); over
    /// it, 429 with a JSON-RPC error.
    pub mcp_max_sessions_per_client: usize,
    /// Seconds an MCP session may stay unused before it is closed (default 300).
    pub mcp_session_idle_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            header_timeout_secs: 15,
            body_timeout_secs: 60,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            batch_timeout_secs: 30,
            mcp_max_sessions: 1000,
            mcp_max_sessions_per_client: 16,
            mcp_session_idle_secs: 300,
        }
    }
}

/// Cross-origin policy (`[cors]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the API with credentials; `*` is not allowed, but an app
    /// scheme may be allowed whole with `<scheme>://*` (e.g. `vscode-webview://*`).
    pub origins: Vec<String>,
}

/// Scout agent settings (`[scout]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoutConfig {
    /// Projects to report on (`[[scout.projects]]`).
    pub projects: Vec<ProjectConfig>,
    /// How long a project's status is shared between requests, in ms; 0 checks anew for
    /// every request (concurrent requests still share one run).
    pub status_ttl_ms: u64,
}

/// `/health` settings (`[health]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Deadline of each health probe per `/health` run, in ms; a probe past it is
    /// reported as `timeout` (`--health-probe-timeout-ms`).
    pub probe_timeout_ms: u64,
    /// How long one run of the probes (and the database check) is shared between
    /// `/health` requests, in ms; 0 runs anew for every request (concurrent requests
    /// still share one run).
    pub cache_ttl_ms: u64,
    /// How long a probe must report `degraded` or `timeout` (resource pressure) before
    /// the overall `status` says so, in seconds; 0: at once.
    pub degraded_after_secs: u64,
    /// How long a request that needs plugins waits for the start-up loading to finish
    /// before it is answered 503, in ms.
    pub startup_wait_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> HealthConfig {
        HealthConfig {
            probe_timeout_ms: 1000,
            cache_ttl_ms: 1000,
            degraded_after_secs: 30,
            startup_wait_ms: 120_000,
        }
    }
}

/// Call recording settings (`[telemetry]`): how long the `calls` table keeps rows.
/// Rows past either limit are rolled up per hour into `calls_rollup` and then deleted,
/// so `/api/analytics` over old periods keeps its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Rows older than this many days are rolled up; 0: no age limit.
    pub retention_days: u64,
    /// At most about this many rows are kept; older ones are rolled up; 0: no limit.
    pub max_rows: u64,
    /// How often the limits are applied, in seconds.
    pub prune_interval_secs: u64,
}

impl Default for TelemetryConfig {
    fn default() -> TelemetryConfig {
        TelemetryConfig {
            retention_days: 30,
            max_rows: 1_000_000,
            prune_interval_secs: 60,
        }
    }
}

/// One project the scout agent reports on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Name used in the API (`/projects/{project_name}`).
    pub name: String,
    /// Project directory; relative paths are relative to the working directory.
    pub path: PathBuf,
}

/// The config file as written: every top-level key optional, so the resolution can tell
/// "set in the file" from "absent".
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    cache_dir: Option<PathBuf>,
    cors: Option<CorsConfig>,
    plugins: BTreeMap<String, serde_json::Value>,
    scout: Option<ScoutConfig>,
    registry: Option<PathBuf>,
    routes: BTreeMap<String, RouteConfig>,
    breaker: Option<BreakerConfig>,
    auth: Option<AuthConfig>,
    rate_limit: Option<RateLimitConfig>,
    secrets_file: Option<PathBuf>,
    signatures: Option<crate::signing::SignaturesConfig>,
    security: Option<SecurityConfig>,
    cache: Option<CacheConfig>,
    jobs: Option<JobsConfig>,
    health: Option<HealthConfig>,
    telemetry: Option<TelemetryConfig>,
    budgets: Option<BudgetsConfig>,
    runtime: Option<RuntimeConfig>,
    server: Option<ServerConfig>,
    socketio: Option<SocketIoConfig>,
    plans: Option<Vec<PlanConfig>>,
    log: Option<LogConfig>,
    subscriptions: Option<SubscriptionsConfig>,
    oropendola: Option<OropendolaConfig>,
    jwt: Option<JwtConfig>,
}

/// The part of the config file that takes effect without a restart, as re-read by
/// [`Config::reread`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reloadable {
    /// `[routes.<name>]`.
    pub routes: BTreeMap<String, RouteConfig>,
    /// `[breaker]`.
    pub breaker: BreakerConfig,
    /// `[plugins.<id>]`.
    pub plugins: BTreeMap<String, serde_json::Value>,
    /// `secrets_file`, unless a flag or environment variable set it.
    pub secrets_file: Option<PathBuf>,
    /// Whether anything else in the file differs from what the server started with
    /// (those keys take effect at the next start).
    pub restart_needed: Vec<&'static str>,
}

impl Config {
    /// Resolves the configuration from the command line (flags and environment), the
    /// config file and the defaults, validates it and creates the data directory.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Config> {
        let (file, source) = match &args.config {
            Some(path) => (read_file(path)?, Some(path.clone())),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                (read_file(&path)?, Some(path))
            }
            None => (FileConfig::default(), None),
        };
        let admin_token = std::env::var(ADMIN_TOKEN_ENV).ok();
        let config = Config::resolve(args, file, source, admin_token)?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        Ok(config)
    }

    /// Where installed plugins live: `<data_dir>/plugins`.
    pub fn plugins_dir(&self) -> PathBuf {
        self.data_dir.join("plugins")
    }

    /// The configuration of one plugin (`[plugins.<id>]`), `null` when there is none.
    pub fn plugin_config(&self, id: &str) -> serde_json::Value {
        self.plugins
            .get(id)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Layers flag/env over file over default; pure, so tests need no files or env.
    fn resolve(
        args: &ServeArgs,
        file: FileConfig,
        source: Option<PathBuf>,
        admin_token: Option<String>,
    ) -> anyhow::Result<Config> {
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| default_database_url(&data_dir));
        let cache_dir = args
            .cache_dir
            .clone()
            .or(file.cache_dir)
            .unwrap_or_else(|| data_dir.join("cache"));
        let config = Config {
            host: args
                .host
                .clone()
                .or(file.host)
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            data_dir,
            database_url,
            cache_dir,
            admin_token: admin_token.filter(|token| !token.is_empty()),
            cors: file.cors.unwrap_or_default(),
            plugins: file.plugins,
            scout: file.scout.unwrap_or_default(),
            registry: args.registry.clone().or(file.registry),
            source,
            routes: file.routes,
            breaker: file.breaker.unwrap_or_default(),
            secrets_file: args.secrets_file.clone().or(file.secrets_file),
            auth: file.auth.unwrap_or_default(),
            rate_limit: RateLimitConfig {
                per_second: args
                    .rate_limit
                    .unwrap_or(file.rate_limit.unwrap_or_default().per_second),
                ..file.rate_limit.unwrap_or_default()
            },
            signatures: file.signatures.unwrap_or_default(),
            security: match &args.reserved_env {
                Some(names) => SecurityConfig {
                    reserved_env: split_names(names),
                },
                None => file.security.unwrap_or_default(),
            },
            cache: file.cache.unwrap_or_default(),
            jobs: file.jobs.unwrap_or_default(),
            health: {
                let mut health = file.health.unwrap_or_default();
                if let Some(ms) = args.health_probe_timeout_ms {
                    health.probe_timeout_ms = ms;
                }
                health
            },
            telemetry: file.telemetry.unwrap_or_default(),
            budgets: file.budgets.unwrap_or_default(),
            runtime: file.runtime.unwrap_or_default(),
            server: {
                let file = file.server.unwrap_or_default();
                ServerConfig {
                    header_timeout_secs: args.header_timeout.unwrap_or(file.header_timeout_secs),
                    body_timeout_secs: args.body_timeout.unwrap_or(file.body_timeout_secs),
                    idle_timeout_secs: args.idle_timeout.unwrap_or(file.idle_timeout_secs),
                    max_connections: args.max_connections.unwrap_or(file.max_connections),
                    batch_timeout_secs: args.batch_timeout.unwrap_or(file.batch_timeout_secs),
                    ..file
                }
            },
            socketio: file.socketio.unwrap_or_default(),
            plans: file.plans.unwrap_or_default(),
            subscriptions: file.subscriptions.unwrap_or_default(),
            oropendola: file.oropendola.unwrap_or_default(),
            jwt: file.jwt.unwrap_or_default(),
            log: {
                let mut log = file.log.unwrap_or_default();
                if let Some(format) = args.log_format {
                    log.format = format;
                }
                if let Some(access) = args.access_log {
                    log.access = access;
                }
                log
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// Re-reads the config file this configuration came from and returns what may change
    /// while the server runs. A file that does not parse or validate is an error, and the
    /// caller keeps what it has.
    pub fn reread(&self) -> anyhow::Result<Reloadable> {
        let Some(path) = &self.source else {
            bail!("no config file was loaded");
        };
        let file = read_file(path)?;
        self.reloadable(file)
    }

    fn reloadable(&self, file: FileConfig) -> anyhow::Result<Reloadable> {
        let mut restart_needed = Vec::new();
        let mut differs = |name: &'static str, same: bool| {
            if !same {
                restart_needed.push(name);
            }
        };
        differs("host", file.host.as_ref().is_none_or(|h| *h == self.host));
        differs("port", file.port.is_none_or(|p| p == self.port));
        differs(
            "data_dir",
            file.data_dir.as_ref().is_none_or(|d| *d == self.data_dir),
        );
        differs(
            "database_url",
            file.database_url
                .as_ref()
                .is_none_or(|u| u.trim().is_empty() || *u == self.database_url),
        );
        differs(
            "cache_dir",
            file.cache_dir.as_ref().is_none_or(|d| *d == self.cache_dir),
        );
        differs("cors", file.cors.as_ref().is_none_or(|c| *c == self.cors));
        differs(
            "scout",
            file.scout.as_ref().is_none_or(|s| *s == self.scout),
        );
        differs(
            "cache",
            file.cache.as_ref().is_none_or(|c| *c == self.cache),
        );
        differs("jobs", file.jobs.is_none_or(|j| j == self.jobs));
        differs("server", file.server.is_none_or(|s| s == self.server));
        differs(
            "budgets",
            file.budgets.as_ref().is_none_or(|b| *b == self.budgets),
        );
        differs("runtime", file.runtime.is_none_or(|r| r == self.runtime));
        differs(
            "signatures",
            file.signatures
                .as_ref()
                .is_none_or(|s| *s == self.signatures),
        );
        differs("auth", file.auth.as_ref().is_none_or(|a| *a == self.auth));
        differs("socketio", file.socketio.is_none_or(|c| c == self.socketio));
        differs(
            "plans",
            file.plans.as_ref().is_none_or(|p| *p == self.plans),
        );
        differs(
            "subscriptions",
            file.subscriptions
                .as_ref()
                .is_none_or(|s| *s == self.subscriptions),
        );
        differs("jwt", file.jwt.as_ref().is_none_or(|j| *j == self.jwt));
        differs("log", file.log.is_none_or(|l| l == self.log));
        differs(
            "oropendola",
            file.oropendola
                .as_ref()
                .is_none_or(|o| *o == self.oropendola),
        );
        differs(
            "security",
            file.security.as_ref().is_none_or(|s| *s == self.security),
        );
        differs(
            "rate_limit",
            file.rate_limit.is_none_or(|r| r == self.rate_limit),
        );
        differs("health", file.health.is_none_or(|h| h == self.health));
        differs(
            "telemetry",
            file.telemetry.is_none_or(|t| t == self.telemetry),
        );
        let next = Config {
            routes: file.routes,
            breaker: file.breaker.unwrap_or_default(),
            plugins: file.plugins,
            secrets_file: file.secrets_file.or_else(|| self.secrets_file.clone()),
            ..self.clone()
        };
        next.validate()?;
        Ok(Reloadable {
            routes: next.routes,
            breaker: next.breaker,
            plugins: next.plugins,
            secrets_file: next.secrets_file,
            restart_needed,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.host.trim().is_empty() {
            bail!("host must not be empty");
        }
        for origin in &self.cors.origins {
            if origin.trim() == "*" {
                bail!("cors.origins: \"*\" cannot be combined with credentials; list the origins");
            }
            if let Some(scheme) = origin.strip_suffix("://*")
                && matches!(scheme, "http" | "https" | "")
            {
                bail!(
                    "cors.origins: {origin:?} would allow every web site; a `<scheme>://*` wildcard is for app schemes such as vscode-webview://*"
                );
            }
            if http::HeaderValue::from_str(origin).is_err() {
                bail!("cors.origins: {origin:?} is not a valid origin");
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for project in &self.scout.projects {
            if project.name.trim().is_empty() {
                bail!("scout.projects: a project has an empty name");
            }
            if !names.insert(project.name.as_str()) {
                bail!("scout.projects: the name {:?} is used twice", project.name);
            }
        }
        for (name, route) in &self.routes {
            crate::providers::validate_route(name, route)
                .map_err(|e| anyhow::anyhow!("routes.{name}: {e}"))?;
        }
        if self.health.probe_timeout_ms == 0 {
            bail!("health.probe_timeout_ms must be at least 1");
        }
        if self.telemetry.prune_interval_secs == 0 {
            bail!("telemetry.prune_interval_secs must be at least 1");
        }
        if self.breaker.failures == 0 {
            bail!("breaker.failures must be at least 1");
        }
        if self.breaker.open_ms == 0 {
            bail!("breaker.open_ms must be at least 1");
        }
        if self.auth.session_hours == 0 {
            bail!("auth.session_hours must be at least 1");
        }
        if self.rate_limit.burst == Some(0) {
            bail!("rate_limit.burst must be at least 1");
        }
        crate::signing::Policy::from_config(&self.signatures)?;
        for name in &self.security.reserved_env {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                bail!("security.reserved_env: {name:?} must be letters, digits and `_`");
            }
        }
        if self.cache.ttl_secs == 0 {
            bail!("cache.ttl_secs must be at least 1");
        }
        if self.cache.max_entries == 0 {
            bail!("cache.max_entries must be at least 1");
        }
        if self.jobs.concurrency == 0 {
            bail!("jobs.concurrency must be at least 1");
        }
        if self.jobs.max_attempts == 0 {
            bail!("jobs.max_attempts must be at least 1");
        }
        let server = &self.server;
        for (name, value) in [
            ("header_timeout_secs", server.header_timeout_secs),
            ("body_timeout_secs", server.body_timeout_secs),
            ("idle_timeout_secs", server.idle_timeout_secs),
            ("batch_timeout_secs", server.batch_timeout_secs),
            ("mcp_session_idle_secs", server.mcp_session_idle_secs),
            ("mcp_max_sessions", server.mcp_max_sessions as u64),
            (
                "mcp_max_sessions_per_client",
                server.mcp_max_sessions_per_client as u64,
            ),
        ] {
            if value == 0 {
                bail!("server.{name} must be at least 1");
            }
        }
        if server.max_connections == 0 {
            bail!("server.max_connections must be at least 1");
        }
        seeds::validate(&self.socketio, &self.plans, &self.subscriptions)?;
        Ok(())
    }
}

impl Default for Config {
    /// The embedded default: what `sanctuary` runs with given no flags, env or file.
    fn default() -> Config {
        let data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        Config {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
            database_url: default_database_url(&data_dir),
            cache_dir: data_dir.join("cache"),
            data_dir,
            admin_token: None,
            cors: CorsConfig::default(),
            plugins: BTreeMap::new(),
            scout: ScoutConfig::default(),
            registry: None,
            source: None,
            routes: BTreeMap::new(),
            breaker: BreakerConfig::default(),
            secrets_file: None,
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            signatures: crate::signing::SignaturesConfig::default(),
            security: SecurityConfig::default(),
            cache: CacheConfig::default(),
            jobs: JobsConfig::default(),
            health: HealthConfig::default(),
            telemetry: TelemetryConfig::default(),
            budgets: BudgetsConfig::default(),
            runtime: RuntimeConfig::default(),
            server: ServerConfig::default(),
            socketio: SocketIoConfig::default(),
            plans: Vec::new(),
            subscriptions: SubscriptionsConfig::default(),
            oropendola: OropendolaConfig::default(),
            jwt: JwtConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// Splits a comma-separated list of names (`--reserved-env A,B`), dropping blanks.
fn split_names(names: &str) -> Vec<String> {
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

impl fmt::Debug for Config {
    // Written out so the admin token can never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("database_url", &crate::db::redact(&self.database_url))
            .field("cache_dir", &self.cache_dir)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("cors", &self.cors)
            .field("plugins", &self.plugins)
            .field("scout", &self.scout)
            .field("registry", &self.registry)
            .field("source", &self.source)
            .field("routes", &self.routes)
            .field("breaker", &self.breaker)
            .field("secrets_file", &self.secrets_file)
            .field("auth", &self.auth)
            .field("rate_limit", &self.rate_limit)
            .field("signatures", &self.signatures)
            .field("security", &self.security)
            .field("cache", &self.cache)
            .field("jobs", &self.jobs)
            .field("server", &self.server)
            .field("health", &self.health)
            .field("telemetry", &self.telemetry)
            .field("socketio", &self.socketio)
            .field("plans", &self.plans)
            .field("subscriptions", &self.subscriptions)
            .field("oropendola", &self.oropendola)
            .field("jwt", &self.jwt)
            .finish()
    }
}

impl Default for CorsConfig {
    fn default() -> CorsConfig {
        CorsConfig {
            origins: [
                "http://localhost:3000",
                "http://127.0.0.1:3000",
                "http://localhost:5173",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for ScoutConfig {
    /// One project: the working directory, named after it.
    fn default() -> ScoutConfig {
        let name = std::env::current_dir()
            .ok()
            .and_then(|dir| {
                dir.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "sanctuary".to_owned());
        ScoutConfig {
            projects: vec![ProjectConfig {
                name,
                path: PathBuf::from("."),
            }],
            status_ttl_ms: 2000,
        }
    }
}

/// `sqlite://<data_dir>/sanctuary.db?mode=rwc` (created on first use).
fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("sanctuary.db").display()
    )
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    parse(&text).with_context(|| format!("in the config file {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<FileConfig> {
    // toml's message names the key and shows the offending line.
    toml::from_str(text).map_err(|err| anyhow::anyhow!("{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &ServeArgs, toml: &str) -> anyhow::Result<Config> {
        Config::resolve(args, parse(toml)?, None, None)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = resolve(&ServeArgs::default(), "").expect("resolves");
        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.port, 5000);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.database_url, "sqlite://./data/sanctuary.db?mode=rwc");
        assert_eq!(config.cache_dir, PathBuf::from("./data/cache"));
        assert_eq!(config.plugins_dir(), PathBuf::from("./data/plugins"));
        assert_eq!(
            config.cors.origins,
            [
                "http://localhost:3000",
                "http://127.0.0.1:3000",
                "http://localhost:5173"
            ]
        );
        assert_eq!(config.scout.projects.len(), 1);
        assert_eq!(config.scout.projects[0].path, PathBuf::from("."));
        assert!(config.admin_token.is_none());
        assert_eq!(config, Config::default());
    }

    #[test]
    fn the_default_project_is_named_after_the_working_directory() {
        let cwd = std::env::current_dir().expect("cwd");
        let name = cwd.file_name().expect("a name").to_string_lossy();
        assert_eq!(ScoutConfig::default().projects[0].name, name);
    }

    #[test]
    fn file_values_replace_the_defaults() {
        let toml = r#"
            host = "127.0.0.1"
            port = 8080
            data_dir = "/srv/sanctuary"
            [cors]
            origins = ["https://app.example"]
            [plugins.system]
            cpu_percent = 95
            [plugins.time]
            zones = ["UTC", "Europe/Paris"]
            [[scout.projects]]
            name = "web"
            path = "../web"
        "#;
        let config = resolve(&ServeArgs::default(), toml).expect("resolves");
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 8080);
        assert_eq!(config.data_dir, PathBuf::from("/srv/sanctuary"));
        // Paths derived from the data directory follow it.
        assert_eq!(
            config.database_url,
            "sqlite:///srv/sanctuary/sanctuary.db?mode=rwc"
        );
        assert_eq!(config.cache_dir, PathBuf::from("/srv/sanctuary/cache"));
        assert_eq!(config.cors.origins, ["https://app.example"]);
        assert_eq!(
            config.plugin_config("system"),
            serde_json::json!({"cpu_percent": 95})
        );
        assert_eq!(
            config.plugin_config("time"),
            serde_json::json!({"zones": ["UTC", "Europe/Paris"]})
        );
        assert_eq!(config.plugin_config("absent"), serde_json::Value::Null);
        assert_eq!(
            config.scout.projects,
            [ProjectConfig {
                name: "web".into(),
                path: "../web".into()
            }]
        );
    }

    #[test]
    fn server_limits_come_from_flags_over_the_file_over_the_defaults() {
        let config = resolve(&ServeArgs::default(), "").expect("resolves");
        assert_eq!(config.server, ServerConfig::default());
        let args = ServeArgs {
            idle_timeout: Some(5),
            max_connections: Some(100),
            ..ServeArgs::default()
        };
        let toml =
            "[server]\nidle_timeout_secs = 9\nheader_timeout_secs = 3\nbatch_timeout_secs = 7\n";
        let config = resolve(&args, toml).expect("resolves");
        assert_eq!(config.server.idle_timeout_secs, 5, "the flag wins");
        assert_eq!(
            config.server.header_timeout_secs, 3,
            "the file beats the default"
        );
        assert_eq!(config.server.batch_timeout_secs, 7);
        assert_eq!(config.server.max_connections, 100);
        assert_eq!(config.server.body_timeout_secs, 60, "the default");
        let err = resolve(&ServeArgs::default(), "[server]\nbody_timeout_secs = 0\n")
            .expect_err("zero is refused");
        assert!(
            format!("{err:#}").contains("server.body_timeout_secs"),
            "{err:#}"
        );
    }

    #[test]
    fn flags_and_environment_override_the_file() {
        // clap puts a flag and its SANCTUARY_* variable in the same field, so this covers
        // both (the wiring of each variable is tested in `cli`).
        let args = ServeArgs {
            host: Some("::1".into()),
            port: Some(0),
            data_dir: Some("/tmp/flag".into()),
            database_url: Some("postgres://db.example/sanctuary".into()),
            cache_dir: Some("/tmp/cache".into()),
            registry: None,
            config: None,
            secrets_file: None,
            rate_limit: None,
            header_timeout: None,
            body_timeout: None,
            idle_timeout: None,
            max_connections: None,
            batch_timeout: None,
            health_probe_timeout_ms: Some(250),
            reserved_env: None,
            log_format: Some(LogFormat::Json),
            access_log: None,
        };
        let toml = r#"
            host = "127.0.0.1"
            port = 8080
            data_dir = "/srv/file"
            database_url = "sqlite:///srv/file/other.db"
            cache_dir = "/srv/file/cache"
            [health]
            probe_timeout_ms = 5000
            cache_ttl_ms = 0
            [log]
            format = "pretty"
            access = false
        "#;
        let config = resolve(&args, toml).expect("resolves");
        assert_eq!(config.host, "::1");
        assert_eq!(config.port, 0);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/flag"));
        assert_eq!(config.database_url, "postgres://db.example/sanctuary");
        assert_eq!(config.cache_dir, PathBuf::from("/tmp/cache"));
        assert_eq!(config.health.probe_timeout_ms, 250, "the flag wins");
        assert_eq!(config.health.cache_ttl_ms, 0, "the file's other keys stay");
        assert_eq!(config.log.format, LogFormat::Json, "the flag wins");
        assert!(!config.log.access, "the file's other keys stay");
    }

    #[test]
    fn health_and_telemetry_keys_have_documented_defaults_and_are_checked() {
        let config = resolve(&ServeArgs::default(), "").expect("resolves");
        assert_eq!(config.health, HealthConfig::default());
        assert_eq!(config.health.probe_timeout_ms, 1000);
        assert_eq!(config.telemetry.retention_days, 30);
        assert_eq!(config.telemetry.max_rows, 1_000_000);
        assert_eq!(config.scout.status_ttl_ms, 2000);
        let config = resolve(
            &ServeArgs::default(),
            "[telemetry]\nretention_days = 7\nmax_rows = 0\n[scout]\nstatus_ttl_ms = 0",
        )
        .expect("resolves");
        assert_eq!(
            (config.telemetry.retention_days, config.telemetry.max_rows),
            (7, 0)
        );
        assert_eq!(config.scout.status_ttl_ms, 0);
        let err =
            resolve(&ServeArgs::default(), "[health]\nprobe_timeout_ms = 0").expect_err("refused");
        assert!(format!("{err:#}").contains("probe_timeout_ms"), "{err:#}");
    }

    #[test]
    fn a_flag_data_dir_moves_the_default_database_but_not_one_set_in_the_file() {
        let args = ServeArgs {
            data_dir: Some("/tmp/flag".into()),
            ..ServeArgs::default()
        };
        let config = resolve(&args, "").expect("resolves");
        assert_eq!(
            config.database_url,
            "sqlite:///tmp/flag/sanctuary.db?mode=rwc"
        );
        let config = resolve(&args, r#"database_url = "sqlite:///kept.db""#).expect("resolves");
        assert_eq!(config.database_url, "sqlite:///kept.db");
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let err = resolve(&ServeArgs::default(), "prot = 5000").expect_err("refused");
        assert!(format!("{err:#}").contains("prot"), "{err:#}");
        let err = resolve(&ServeArgs::default(), "[cors]\norigin = []").expect_err("refused");
        assert!(format!("{err:#}").contains("origin"), "{err:#}");
        let err = resolve(
            &ServeArgs::default(),
            "[[scout.projects]]\nname = \"a\"\npath = \".\"\ndir = \"x\"",
        )
        .expect_err("refused");
        assert!(format!("{err:#}").contains("dir"), "{err:#}");
    }

    #[test]
    fn bad_toml_gives_an_error_with_the_line() {
        let err = resolve(&ServeArgs::default(), "host = \"a\"\nport = = 1").expect_err("refused");
        let text = format!("{err:#}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_naming_the_key() {
        let err = resolve(&ServeArgs::default(), "port = \"http\"").expect_err("refused");
        assert!(format!("{err:#}").contains("port"), "{err:#}");
    }

    #[test]
    fn an_app_scheme_wildcard_is_allowed_but_not_for_web_schemes() {
        let config = resolve(
            &ServeArgs::default(),
            "[cors]\norigins = [\"vscode-webview://*\"]",
        )
        .expect("an app scheme may be allowed whole");
        assert_eq!(config.cors.origins, ["vscode-webview://*"]);
        for origin in ["https://*", "http://*"] {
            let text = format!("[cors]\norigins = [\"{origin}\"]");
            let err = resolve(&ServeArgs::default(), &text).expect_err("refused");
            assert!(format!("{err:#}").contains("every web site"), "{err:#}");
        }
    }

    #[test]
    fn seed_settings_default_to_the_seeds_socket_io_limits_and_plans_must_exist() {
        let config = resolve(&ServeArgs::default(), "").expect("defaults");
        assert_eq!(config.socketio.max_payload, 1_000_000);
        assert_eq!(config.socketio.ping_timeout_ms, 60_000);
        assert_eq!(config.socketio.ping_interval_ms, 25_000);
        let err = resolve(
            &ServeArgs::default(),
            "[[plans]]\nname = \"free\"\n[subscriptions]\nusers = { ada = \"gold\" }",
        )
        .expect_err("an unknown plan");
        assert!(format!("{err:#}").contains("gold"), "{err:#}");
    }

    #[test]
    fn a_wildcard_cors_origin_is_refused() {
        let err = resolve(&ServeArgs::default(), "[cors]\norigins = [\"*\"]").expect_err("refused");
        assert!(format!("{err:#}").contains("cors.origins"), "{err:#}");
    }

    #[test]
    fn two_projects_with_one_name_are_refused() {
        let toml = "[[scout.projects]]\nname = \"a\"\npath = \".\"\n\
                    [[scout.projects]]\nname = \"a\"\npath = \"..\"";
        assert!(resolve(&ServeArgs::default(), toml).is_err());
    }

    #[test]
    fn an_explicit_config_file_that_does_not_exist_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = ServeArgs {
            config: Some(dir.path().join("missing.toml")),
            data_dir: Some(dir.path().join("data")),
            ..ServeArgs::default()
        };
        let err = Config::load(&args).expect_err("refused");
        assert!(format!("{err:#}").contains("missing.toml"), "{err:#}");
    }

    #[test]
    fn load_reads_the_named_file_records_it_and_creates_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sanctuary.toml");
        let data_dir = dir.path().join("nested/data");
        std::fs::write(
            &file,
            format!(
                "port = 7000\ndata_dir = {:?}\n",
                data_dir.display().to_string()
            ),
        )
        .expect("write");
        let args = ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).expect("loads");
        assert_eq!(config.port, 7000);
        assert_eq!(config.source, Some(file));
        assert!(data_dir.is_dir());
    }

    #[test]
    fn the_admin_token_comes_only_from_the_environment_and_is_never_printed() {
        assert!(resolve(&ServeArgs::default(), "admin_token = \"x\"").is_err());
        let config = Config::resolve(
            &ServeArgs::default(),
            FileConfig::default(),
            None,
            Some("s3cret-token".into()),
        )
        .expect("resolves");
        assert_eq!(config.admin_token.as_deref(), Some("s3cret-token"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-token"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn an_empty_admin_token_means_none() {
        let config = Config::resolve(
            &ServeArgs::default(),
            FileConfig::default(),
            None,
            Some(String::new()),
        )
        .expect("resolves");
        assert!(config.admin_token.is_none());
    }

    #[test]
    fn debug_output_hides_a_database_password() {
        let config = Config {
            database_url: "postgres://app:hunter2@db/sanctuary".into(),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn routes_breaker_and_secrets_file_are_read_strictly() {
        let toml = r#"
            secrets_file = "/etc/sanctuary/secrets.env"
            [routes.mama-bear]
            chain = [{ provider = "openai-compatible", model = "gpt-4o-mini" }, { provider = "local" }]
            timeout_ms = 5000
            retries = 2
            [routes.coder]
            chain = [{ provider = "anthropic", enabled = false }]
            [breaker]
            failures = 3
        "#;
        let config = resolve(&ServeArgs::default(), toml).expect("resolves");
        let route = &config.routes["mama-bear"];
        assert_eq!(route.chain[0].provider, "openai-compatible");
        assert_eq!(route.chain[0].model.as_deref(), Some("gpt-4o-mini"));
        assert!(route.chain[1].enabled);
        assert_eq!((route.timeout_ms, route.retries), (Some(5000), Some(2)));
        assert!(!config.routes["coder"].chain[0].enabled);
        assert_eq!(
            config.breaker,
            BreakerConfig {
                failures: 3,
                open_ms: 30_000
            }
        );
        assert_eq!(
            config.secrets_file,
            Some(PathBuf::from("/etc/sanctuary/secrets.env"))
        );
        for (bad, named) in [
            (
                "[routes.x]\nchain = [{ provider = \"a\", modle = \"m\" }]",
                "modle",
            ),
            ("[routes.x]\nchian = []", "chian"),
            ("[routes.x]\nchain = []", "routes.x"),
            ("[breaker]\nfailures = 0", "breaker.failures"),
            ("[breaker]\nopen = 5", "open"),
        ] {
            let err = resolve(&ServeArgs::default(), bad).expect_err(bad);
            assert!(format!("{err:#}").contains(named), "{bad}: {err:#}");
        }
    }

    #[test]
    fn a_reread_file_yields_what_may_change_and_names_what_needs_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sanctuary.toml");
        std::fs::write(&file, "port = 7000\n").expect("write");
        let args = ServeArgs {
            config: Some(file.clone()),
            data_dir: Some(dir.path().join("data")),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).expect("loads");
        std::fs::write(
            &file,
            "port = 7001\n[routes.mama-bear]\nchain = [{ provider = \"gemini\" }]\n\
             [plugins.gemini]\ndefault_model = \"x\"\n[breaker]\nopen_ms = 10\n",
        )
        .expect("write");
        let next = config.reread().expect("rereads");
        assert_eq!(next.routes["mama-bear"].chain[0].provider, "gemini");
        assert_eq!(next.breaker.open_ms, 10);
        assert_eq!(
            next.plugins["gemini"],
            serde_json::json!({"default_model": "x"})
        );
        assert_eq!(next.restart_needed, ["port"]);
        std::fs::write(&file, "[routes.mama-bear]\nchain = \"local\"\n").expect("write");
        assert!(
            config.reread().is_err(),
            "a bad file is an error, not a change"
        );
    }

    #[test]
    fn signature_settings_are_read_and_a_bad_trusted_key_is_refused() {
        let config = resolve(
            &ServeArgs::default(),
            "[signatures]\ntrusted_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]\nrequire_signed = true\n",
        )
        .expect("valid");
        assert!(config.signatures.require_signed);
        assert_eq!(config.signatures.trusted_keys.len(), 1);
        assert!(!Config::default().signatures.require_signed);
        let err = resolve(
            &ServeArgs::default(),
            "[signatures]\ntrusted_keys = [\"nope\"]\n",
        )
        .expect_err("bad key");
        assert!(
            format!("{err:#}").contains("signatures.trusted_keys"),
            "{err:#}"
        );
    }

    #[test]
    fn cache_settings_are_read_with_defaults_and_nonsense_is_refused() {
        assert_eq!(Config::default().cache, CacheConfig::default());
        assert!(!Config::default().cache.enabled);
        let config = resolve(
            &ServeArgs::default(),
            "[cache]\nenabled = true\nttl_secs = 60\nroutes = [\"mama-bear\"]\n",
        )
        .expect("valid");
        assert!(config.cache.enabled);
        assert_eq!(config.cache.ttl_secs, 60);
        assert_eq!(config.cache.max_entries, 1000);
        assert_eq!(config.cache.routes, vec!["mama-bear".to_string()]);
        for bad in [
            "[cache]\nttl_secs = 0\n",
            "[cache]\nmax_entries = 0\n",
            "[cache]\nttl = 5\n",
        ] {
            assert!(resolve(&ServeArgs::default(), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jobs_settings_are_read_with_defaults_and_nonsense_is_refused() {
        assert_eq!(Config::default().jobs.concurrency, 2);
        assert_eq!(Config::default().jobs.max_attempts, 3);
        let config = resolve(&ServeArgs::default(), "[jobs]\nconcurrency = 4\n").expect("valid");
        assert_eq!(config.jobs.concurrency, 4);
        assert_eq!(config.jobs.max_attempts, 3);
        for bad in [
            "[jobs]\nconcurrency = 0\n",
            "[jobs]\nmax_attempts = 0\n",
            "[jobs]\nworkers = 2\n",
        ] {
            assert!(resolve(&ServeArgs::default(), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auth_and_rate_limits_are_read_strictly_and_the_flag_beats_the_file() {
        let config = resolve(&ServeArgs::default(), "").expect("resolves");
        assert!(config.auth.open_read && config.auth.open_chat);
        assert_eq!(config.auth.session_hours, 168);
        assert_eq!(config.rate_limit.per_second, 0, "off by default");
        let toml = "[auth]\nopen_read = false\nsession_hours = 2\n\
                    [rate_limit]\nper_second = 5\nburst = 7\ntrust_forwarded = true\n";
        let config = resolve(&ServeArgs::default(), toml).expect("resolves");
        assert!(!config.auth.open_read && config.auth.open_chat);
        assert_eq!(config.auth.session_hours, 2);
        assert_eq!(
            config.rate_limit,
            RateLimitConfig {
                per_second: 5,
                burst: Some(7),
                trust_forwarded: true
            }
        );
        let args = ServeArgs {
            rate_limit: Some(0),
            ..ServeArgs::default()
        };
        let config = resolve(&args, toml).expect("resolves");
        assert_eq!(config.rate_limit.per_second, 0, "the flag turns limits off");
        assert_eq!(config.rate_limit.burst, Some(7));
        for (bad, named) in [
            ("[auth]\nopen_reads = false", "open_reads"),
            ("[auth]\nsession_hours = 0", "auth.session_hours"),
            ("[rate_limit]\nper_second = -1", "per_second"),
            ("[rate_limit]\nburst = 0", "rate_limit.burst"),
        ] {
            let err = resolve(&ServeArgs::default(), bad).expect_err(bad);
            assert!(format!("{err:#}").contains(named), "{bad}: {err:#}");
        }
    }

    #[test]
    fn the_example_config_at_the_repository_root_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sanctuary.example.toml");
        let text = std::fs::read_to_string(&path).expect("sanctuary.example.toml exists");
        let config = resolve(&ServeArgs::default(), &text).expect("the example resolves");
        assert!(config.plugins.contains_key("system"));
        assert!(!config.scout.projects.is_empty());
    }
}
