//! The shapes `/health` and `/health/detailed` answer, as types: the handlers build them
//! and the API description documents them from the same definitions. The machine figures
//! and call counters are the runtime crate's own types (their schemas come from its
//! `openapi` feature).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::runtime::StatsSnapshot;
use crate::system::{Cpu, Disk, Memory, Network};

/// A health probe's last run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbeReport {
    /// `healthy`, `degraded`, `unhealthy`, `timeout`, or `error` when the probe failed.
    pub status: String,
    /// One line of explanation.
    pub detail: String,
    /// How long it took.
    pub duration_ms: f64,
}

/// A probe under pressure (`degraded` or `timeout`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pressure {
    /// The probe's id.
    pub probe: String,
    /// `degraded` or `timeout`.
    pub status: String,
    /// The probe's explanation.
    pub detail: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// For how many seconds.
    pub seconds: f64,
    /// Whether it has lasted `[health] degraded_after_secs` and so counts.
    pub sustained: bool,
}

/// The database's check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatabaseCheck {
    /// `operational` or `unavailable`.
    pub status: &'static str,
    /// How long a ping took.
    pub latency_ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The plugin set's check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginsCheck {
    /// `loading`, `loaded` or `degraded` (some failed).
    pub status: &'static str,
    /// How many are loaded.
    pub loaded: usize,
    /// Those still loading.
    pub loading: Vec<String>,
    /// Those that failed, with why.
    pub failed: BTreeMap<String, String>,
}

/// Seed 001's `checks`: the database, the plugin set and each probe.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checks {
    /// The database.
    pub database: DatabaseCheck,
    /// The plugin set.
    pub plugins: PluginsCheck,
    /// Each health probe, by id.
    pub probes: BTreeMap<String, ProbeReport>,
}

/// The database in `/health/detailed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatabaseDetail {
    /// `operational` or `unavailable`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub kind: &'static str,
    /// How long a ping took.
    pub latency_ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A loaded AI provider plugin in `/health/detailed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderDetail {
    /// Plugin id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Models it offers.
    pub models: Vec<String>,
    /// The model used when a request names none.
    pub default_model: String,
    /// Whether it answers without network access.
    pub offline: bool,
    /// Always `true` (it is loaded).
    pub available: bool,
}

/// A loaded plugin in `/health/detailed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginDetail {
    /// Plugin id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plugin kind.
    pub kind: crate::manifest::Kind,
    /// Version loaded.
    pub version: String,
    /// The WIT version its component is built against.
    pub api_version: String,
    /// Always `loaded`.
    pub state: &'static str,
    /// When it was loaded (RFC 3339).
    pub loaded_at: String,
    /// Its tools' names (mcp-server plugins).
    pub tools: Vec<String>,
    /// Call counters.
    pub stats: StatsSnapshot,
}

/// The machine in `/health/detailed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemDetail {
    /// Processor.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// Mounted filesystems.
    pub disks: Vec<Disk>,
    /// Network counters since boot.
    pub network: Network,
}

/// Figures of the server in `/health/detailed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PerformanceDetail {
    /// Seconds since the server started.
    pub uptime_seconds: f64,
    /// Resident memory of this process.
    pub process_memory_bytes: u64,
    /// Plugin calls started, all plugins.
    pub plugin_calls: u64,
    /// Plugin calls failed, all plugins.
    pub plugin_errors: u64,
}

/// `GET /health/detailed` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DetailedHealth {
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: &'static str,
    /// Always `podplay-sanctuary`.
    pub service: &'static str,
    /// Always `true`.
    pub backend_running: bool,
    /// When (RFC 3339).
    pub timestamp: String,
    /// Seconds since the server started.
    pub uptime: f64,
    /// When the server started (RFC 3339).
    pub started_at: String,
    /// The server's version.
    pub version: &'static str,
    /// Each service's status (`operational`, `running`, `loading`, ... or a probe's
    /// status), by name.
    pub services: BTreeMap<String, String>,
    /// Each health probe's last run.
    pub probes: Vec<crate::plugins::ProbeOutcome>,
    /// The checks.
    pub checks: Checks,
    /// Plugins still loading.
    pub loading: Vec<String>,
    /// Probes under pressure.
    pub pressure: Vec<Pressure>,
    /// When the checks ran (RFC 3339).
    pub checked_at: String,
    /// The database.
    pub database: DatabaseDetail,
    /// The loaded AI provider plugins.
    pub ai_providers: Vec<ProviderDetail>,
    /// The loaded plugins.
    pub plugins: Vec<PluginDetail>,
    /// Plugins that failed to load, with why.
    pub failed_plugins: BTreeMap<String, String>,
    /// The machine.
    pub system: SystemDetail,
    /// The server's own figures.
    pub performance: PerformanceDetail,
}
