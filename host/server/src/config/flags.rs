//! The serve flags ([`ServeArgs`]) and their `SANCTUARY_*` environment variables, beside
//! the config shape they set. Every value is optional: `None` means "not given", and the
//! config file (then the built-in default) decides. Each flag names the config key it sets
//! (its `serde` name: a dotted path into the file's tables), so flags are resolved exactly
//! as if that key were written in the file. The command line (`crate::cli`) parses them.

use std::path::PathBuf;

use clap::Args;
use serde::{Serialize, Serializer};

/// Where and how to serve. Every field is `None` unless given by flag or environment; the
/// `serde` name of each is the config key it sets ([`ServeArgs::keys`]).
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct ServeArgs {
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "SANCTUARY_HOST", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// Port to listen on; 0 picks a free one [default: 5000].
    #[arg(long, env = "SANCTUARY_PORT", value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,

    /// Once listening, write the bound address (`HOST:PORT` and a newline) to this file,
    /// atomically; useful with `--port 0` [default: none, or `port_file`].
    #[arg(long, env = "SANCTUARY_PORT_FILE", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_file: Option<PathBuf>,

    /// Directory for the database, installed plugins and caches; created if missing
    /// [default: ./data].
    #[arg(long, env = "SANCTUARY_DATA_DIR", value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,

    /// Config file (TOML). Without this flag ./sanctuary.toml is read when it exists; a
    /// file named here must exist.
    #[arg(long, env = "SANCTUARY_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://PATH?mode=rwc or postgres://USER@HOST/DB
    /// [default: sqlite://<data-dir>/sanctuary.db?mode=rwc].
    #[arg(long, env = "SANCTUARY_DATABASE_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,

    /// Redis URL (redis://[USER:PASSWORD@]HOST[:PORT][/DB]) for running more than one
    /// node: Socket.IO rooms, job, cache, route and plugin events, and rate limits are
    /// shared through it [default: none, one node alone].
    #[arg(long, env = "SANCTUARY_REDIS_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,

    /// What this installation's Redis keys and channels start with: installations sharing
    /// one Redis need prefixes of their own; the nodes of one installation share one
    /// [default: sanctuary].
    #[arg(long, env = "SANCTUARY_REDIS_PREFIX", value_name = "PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,

    /// Directory for compiled-component caches [default: <data-dir>/cache].
    #[arg(long, env = "SANCTUARY_CACHE_DIR", value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,

    /// Marketplace index to install plugins from (a registry.json; components are found
    /// beside it) [default: the registry built into the binary].
    #[arg(long, env = "SANCTUARY_REGISTRY", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<PathBuf>,

    /// Secrets for plugins that declare them: a TOML file of `NAME = "value"` or a
    /// `.env`-style file of `NAME=value` lines; re-read when it changes. The host
    /// environment is consulted too [default: none].
    #[arg(long, env = "SANCTUARY_SECRETS_FILE", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<PathBuf>,

    /// Requests per second per client (API key, session or address), with bursts of
    /// twice that; 0 turns limits off [default: 0, or `[rate_limit] per_second`].
    #[arg(long, env = "SANCTUARY_RATE_LIMIT", value_name = "N")]
    #[serde(
        rename = "rate_limit.per_second",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limit: Option<u32>,

    /// Seconds a client has to send a request's head, from its first byte
    /// [default: 15, or `[server] header_timeout_secs`].
    #[arg(long, env = "SANCTUARY_HEADER_TIMEOUT", value_name = "SECS")]
    #[serde(
        rename = "server.header_timeout_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub header_timeout: Option<u64>,

    /// Seconds a client has to send a request's body [default: 60, or `[server]
    /// body_timeout_secs`].
    #[arg(long, env = "SANCTUARY_BODY_TIMEOUT", value_name = "SECS")]
    #[serde(
        rename = "server.body_timeout_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub body_timeout: Option<u64>,

    /// Seconds a kept-alive connection may wait for its next request [default: 60, or
    /// `[server] idle_timeout_secs`].
    #[arg(long, env = "SANCTUARY_IDLE_TIMEOUT", value_name = "SECS")]
    #[serde(
        rename = "server.idle_timeout_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<u64>,

    /// Connections open at once; more are answered 503 [default: 10000, or `[server]
    /// max_connections`].
    #[arg(long, env = "SANCTUARY_MAX_CONNECTIONS", value_name = "N")]
    #[serde(
        rename = "server.max_connections",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connections: Option<usize>,

    /// Seconds one `POST /api/batch` may run in all [default: 30, or `[server]
    /// batch_timeout_secs`].
    #[arg(long, env = "SANCTUARY_BATCH_TIMEOUT", value_name = "SECS")]
    #[serde(
        rename = "server.batch_timeout_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_timeout: Option<u64>,
    /// Deadline of each health probe in a `/health` run, in ms; a probe past it is
    /// reported as `timeout` [default: 1000, or `[health] probe_timeout_ms`].
    #[arg(long, env = "SANCTUARY_HEALTH_PROBE_TIMEOUT_MS", value_name = "MS")]
    #[serde(
        rename = "health.probe_timeout_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub health_probe_timeout_ms: Option<u64>,
    /// Names (comma-separated) that plugins may never be granted as env vars or secrets,
    /// beyond `SANCTUARY_*` which always is [default: none, or `[security] reserved_env`].
    #[arg(long, env = "SANCTUARY_RESERVED_ENV", value_name = "NAMES")]
    #[serde(
        rename = "security.reserved_env",
        serialize_with = "names",
        skip_serializing_if = "Option::is_none"
    )]
    pub reserved_env: Option<String>,
    /// Log line format: `pretty` (coloured only on a terminal) or `json` (one object per
    /// line) [default: pretty, or `[log] format`].
    #[arg(long, env = "SANCTUARY_LOG_FORMAT", value_name = "FORMAT")]
    #[serde(rename = "log.format", skip_serializing_if = "Option::is_none")]
    pub log_format: Option<super::LogFormat>,
    /// One `info` line per HTTP request (method, route, status, latency, client, request
    /// id): `true` or `false` [default: true, or `[log] access`].
    #[arg(long, env = "SANCTUARY_ACCESS_LOG", value_name = "BOOL")]
    #[serde(rename = "log.access", skip_serializing_if = "Option::is_none")]
    pub access_log: Option<bool>,
}

impl ServeArgs {
    /// The config keys the given flags set, at their dotted paths
    /// (`server.body_timeout_secs`), for [`super::Config`] to lay over the file.
    pub fn keys(&self) -> anyhow::Result<toml::Table> {
        match toml::Value::try_from(self)? {
            toml::Value::Table(keys) => Ok(keys),
            other => anyhow::bail!("the flags serialized to {other}, not a table"),
        }
    }
}

/// `--reserved-env A,B` as the list `security.reserved_env` is, blanks dropped.
fn names<S: Serializer>(names: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    let list: Vec<&str> = names
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    list.serialize(serializer)
}
