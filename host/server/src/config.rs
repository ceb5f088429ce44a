//! The host's one configuration struct, resolved from three layers: a flag or its
//! `SANCTUARY_*` environment variable beats the TOML config file, which beats the built-in
//! default. The file is strict (`deny_unknown_fields` everywhere), so a typo is an error
//! naming the key rather than a silently ignored setting. `sanctuary.example.toml` at the
//! repository root documents every key.
//!
//! The shape is written once, as [`Config`]: its serde fields are the file's keys, its
//! [`Default`] the defaults. Each flag names the key it sets ([`ServeArgs`] serializes to
//! that key's path), so resolving is one merge of TOML tables (flags over the file) read
//! into [`Config`], and the reload diff compares two resolved [`Config`]s key by key: no
//! list of keys is kept by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

mod flags;
mod log;
pub mod secrets;
mod sections;
mod seeds;

pub use flags::ServeArgs;

/// What every Redis key and channel of one installation starts with, unless
/// `--redis-prefix` / `SANCTUARY_REDIS_PREFIX` / `redis_prefix` says otherwise: two
/// installations sharing one Redis need prefixes of their own.
pub const DEFAULT_REDIS_PREFIX: &str = "sanctuary";

/// Socket.IO packets buffered per connection before `emit` refuses more (the default of
/// `[socketio] max_buffer_size`).
pub const SOCKET_BUFFER_PACKETS: usize = 8192;
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

/// The resolved configuration of a running host. Its fields are the config file's keys
/// (`#[serde(skip)]` ones are not keys: they come from elsewhere).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(skip)]
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
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The keys flags and environment variables set ([`ServeArgs::keys`]), kept so a
    /// re-read file is resolved under the same flags.
    #[serde(skip)]
    pub flags: toml::Table,
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
    /// The keys whose resolved value differs from what the server started with (those
    /// take effect at the next start).
    pub restart_needed: Vec<String>,
}

/// The keys [`Config::reread`] hands over to take effect at once; a change of any other
/// key waits for the next start.
pub const RELOADABLE_KEYS: [&str; 4] = ["routes", "breaker", "plugins", "secrets_file"];

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
            None => (toml::Table::new(), None),
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

    /// What the plugin host is set up with.
    pub fn plugin_settings(&self) -> crate::plugins::Settings {
        crate::plugins::Settings {
            data_dir: self.data_dir.clone(),
            plugins_dir: self.plugins_dir(),
            cache_dir: Some(self.cache_dir.clone()),
            runtime: crate::runtime::RuntimeOptions {
                guest_threads: self.runtime.guest_threads,
                budgets: self.budgets.clone(),
            },
            plugin_configs: self.plugins.clone(),
            signatures: self.signatures.clone(),
            reserved_env: self.security.reserved_env.clone(),
        }
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
        file: toml::Table,
        source: Option<PathBuf>,
        admin_token: Option<String>,
    ) -> anyhow::Result<Config> {
        Config::resolve_keys(args.keys()?, file, source, admin_token)
    }

    /// [`Config::resolve`] with the flags already turned into keys.
    fn resolve_keys(
        flags: toml::Table,
        file: toml::Table,
        source: Option<PathBuf>,
        admin_token: Option<String>,
    ) -> anyhow::Result<Config> {
        let mut keys = file;
        overlay(&mut keys, &flags);
        let mut config = Config::deserialize(keys.clone())
            .map_err(|err| anyhow::anyhow!("{err}"))
            .context("in the flags and environment variables")?;
        // Defaults that follow other keys, where nothing set them.
        let set = |key: &str| {
            keys.get(key)
                .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
        };
        if !set("database_url") {
            config.database_url = default_database_url(&config.data_dir);
        }
        if !set("cache_dir") {
            config.cache_dir = config.data_dir.join("cache");
        }
        config.redis_url = config.redis_url.filter(|url| !url.trim().is_empty());
        config.redis_prefix = redis_prefix(Some(config.redis_prefix))?;
        config.admin_token = admin_token.filter(|token| !token.is_empty());
        config.source = source;
        config.flags = flags;
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

    /// What `file` changes: the reloadable keys as it resolves them (under the flags this
    /// configuration started with), and every other key whose resolved value differs.
    fn reloadable(&self, file: toml::Table) -> anyhow::Result<Reloadable> {
        let next = Config::resolve_keys(
            self.flags.clone(),
            file,
            self.source.clone(),
            self.admin_token.clone(),
        )?;
        let restart_needed = changed_keys(self, &next)?
            .into_iter()
            .filter(|key| !RELOADABLE_KEYS.contains(&key.as_str()))
            .collect();
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
            sanctuary_chat::providers::validate_route(name, route)
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
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            cache_dir: data_dir.join("cache"),
            data_dir,
            admin_token: None,
            cors: CorsConfig::default(),
            plugins: BTreeMap::new(),
            scout: ScoutConfig::default(),
            registry: None,
            source: None,
            flags: toml::Table::new(),
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

impl fmt::Debug for Config {
    // The keys as resolved (the admin token is no key), with the URLs' passwords hidden,
    // so it can never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(keys)) => keys,
            _ => serde_json::Map::new(),
        };
        keys.insert(
            "database_url".into(),
            crate::db::redact(&self.database_url).into(),
        );
        keys.insert(
            "redis_url".into(),
            self.redis_url.as_deref().map(crate::db::redact).into(),
        );
        let token = self.admin_token.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("keys", &serde_json::Value::Object(keys))
            .field("admin_token", &token)
            .field("source", &self.source)
            .finish()
    }
}

/// Sets each key of `flags` in `keys`, at its dotted path (`server.body_timeout_secs` is
/// `body_timeout_secs` in the table `server`), over what the file said.
fn overlay(keys: &mut toml::Table, flags: &toml::Table) {
    for (path, value) in flags {
        let mut table = &mut *keys;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_owned(), value.clone());
                break;
            }
            let entry = table
                .entry(part.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                // The typed read of the file refused this already; a flag wins anyway.
                *entry = toml::Value::Table(toml::Table::new());
            }
            let toml::Value::Table(inner) = entry else {
                unreachable!("made a table above")
            };
            table = inner;
        }
    }
}

/// The top-level keys whose values differ between two resolved configurations.
fn changed_keys(before: &Config, after: &Config) -> anyhow::Result<Vec<String>> {
    let (serde_json::Value::Object(before), serde_json::Value::Object(after)) =
        (serde_json::to_value(before)?, serde_json::to_value(after)?)
    else {
        bail!("a configuration serializes to an object");
    };
    let mut keys: Vec<String> = before
        .iter()
        .filter(|(key, value)| after.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)).cloned());
    Ok(keys)
}

/// `sqlite://<data_dir>/sanctuary.db?mode=rwc` (created on first use).
fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("sanctuary.db").display()
    )
}

fn read_file(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    parse(&text).with_context(|| format!("in the config file {}", path.display()))
}

/// The keys of a config file, checked against [`Config`]'s shape first: toml's message
/// then names the key and shows the offending line.
fn parse(text: &str) -> anyhow::Result<toml::Table> {
    toml::from_str::<Config>(text).map_err(|err| anyhow::anyhow!("{err}"))?;
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

/// The Redis prefix as given (`None` or blank: [`DEFAULT_REDIS_PREFIX`]), or
/// an error naming what a prefix may hold: it is pasted into key and channel names.
fn redis_prefix(given: Option<String>) -> anyhow::Result<String> {
    let Some(prefix) = given.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) else {
        return Ok(DEFAULT_REDIS_PREFIX.to_owned());
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
