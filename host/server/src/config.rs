//! The host's one configuration struct, resolved from three layers: a flag or its
//! `SANCTUARY_*` environment variable beats the TOML config file, which beats the built-in
//! default. The file is strict (`deny_unknown_fields` everywhere), so a typo is an error
//! naming the key rather than a silently ignored setting. `sanctuary.example.toml` at the
//! repository root documents every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::cli::ServeArgs;

mod log;
mod sections;
mod seeds;

pub use log::{LogConfig, LogFormat};
pub use sections::*;
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
    /// Where to write the bound address once listening (`--port-file`, `port_file`).
    pub port_file: Option<PathBuf>,
    /// Database, installed plugins and caches live here; created by [`Config::load`].
    pub data_dir: PathBuf,
    /// Database URL, never empty: `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Redis URL for sharing events, Socket.IO rooms and rate limits between nodes
    /// (`--redis-url`, `SANCTUARY_REDIS_URL`, `redis_url`); `None`: one node alone.
    pub redis_url: Option<String>,
    /// What the installation's Redis keys and channels start with (`--redis-prefix`,
    /// `SANCTUARY_REDIS_PREFIX`, `redis_prefix`; default `sanctuary`).
    pub redis_prefix: String,
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

/// The config file as written: every top-level key optional, so the resolution can tell
/// "set in the file" from "absent".
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    port_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
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
            format!(
                "cannot create the data directory {}: create it, or choose another with --data-dir or SANCTUARY_DATA_DIR",
                config.data_dir.display()
            )
        })?;
        check_writable(&config.data_dir)?;
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
            port_file: args.port_file.clone().or(file.port_file),
            data_dir,
            database_url,
            redis_url: args
                .redis_url
                .clone()
                .or(file.redis_url)
                .filter(|url| !url.trim().is_empty()),
            redis_prefix: redis_prefix(args.redis_prefix.clone().or(file.redis_prefix))?,
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
        self.reread_from(path)
    }

    /// Like [`Config::reread`], from `path`: the file this configuration came from, or
    /// the default `sanctuary.toml` that did not exist at start and has appeared since.
    pub fn reread_from(&self, path: &Path) -> anyhow::Result<Reloadable> {
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
            "port_file",
            file.port_file
                .as_ref()
                .is_none_or(|p| Some(p) == self.port_file.as_ref()),
        );
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
            "redis_url",
            file.redis_url
                .as_ref()
                .is_none_or(|u| u.trim().is_empty() || Some(u) == self.redis_url.as_ref()),
        );
        differs(
            "redis_prefix",
            file.redis_prefix
                .as_ref()
                .is_none_or(|p| p.trim().is_empty() || *p == self.redis_prefix),
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
        if self.jobs.lease_secs < 3 {
            bail!("jobs.lease_secs must be at least 3 (the lease is renewed every fifth of it)");
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
            port_file: None,
            database_url: default_database_url(&data_dir),
            redis_url: None,
            redis_prefix: crate::cluster::DEFAULT_PREFIX.to_owned(),
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
            .field("port_file", &self.port_file)
            .field("data_dir", &self.data_dir)
            .field("database_url", &crate::db::redact(&self.database_url))
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(crate::db::redact),
            )
            .field("redis_prefix", &self.redis_prefix)
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

/// Fails with one line naming `dir` and the fix when files cannot be created in it (a
/// data directory that exists but belongs to another user, or a read-only mount): SQLite
/// would otherwise say only "unable to open database file".
pub fn check_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".sanctuary-write-test-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => bail!(
            "the data directory {} is not writable ({err}): give the user running sanctuary write access to it (chown or chmod), or choose another with --data-dir or SANCTUARY_DATA_DIR",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests;

/// The Redis prefix as given (`None` or blank: [`crate::cluster::DEFAULT_PREFIX`]), or
/// an error naming what a prefix may hold: it is pasted into key and channel names.
fn redis_prefix(given: Option<String>) -> anyhow::Result<String> {
    let Some(prefix) = given.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) else {
        return Ok(crate::cluster::DEFAULT_PREFIX.to_owned());
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.:".contains(c);
    if prefix.len() > 64 || !prefix.chars().all(allowed) {
        bail!(
            "redis_prefix {prefix:?}: use at most 64 of A-Z a-z 0-9 _ - . : \
             (set by --redis-prefix, SANCTUARY_REDIS_PREFIX or redis_prefix)"
        );
    }
    Ok(prefix)
}
