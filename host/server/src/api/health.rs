//! `GET /health`, `/health/detailed`, `/health/live` and `/health/ready`: the database,
//! the plugin runtime and every health-probe plugin, aggregated into the seeds' shape.
//!
//! The endpoint is on time whatever the probes do: they run concurrently under
//! `[health] probe_timeout_ms`, a probe past it is reported as `timeout` (its run goes on
//! to its own time cap, and later checks wait for that run rather than start another),
//! and one run is shared by every request within `[health] cache_ttl_ms` (single-flight:
//! concurrent requests wait for the run in progress). `status` is stable: a probe
//! reporting resource pressure (`degraded`, or `timeout`) turns it `degraded` only once
//! that has lasted `[health] degraded_after_secs`; a database that does not answer makes
//! it `unhealthy`, a probe that fails or says `unhealthy` makes it `degraded` at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

mod view;

pub use view::{
    Checks, DatabaseCheck, DatabaseDetail, DetailedHealth, PerformanceDetail, PluginDetail,
    PluginsCheck, Pressure, ProbeReport, ProviderDetail, SystemDetail,
};

use crate::clock;
use crate::config::HealthConfig;
use crate::manifest::Kind;
use crate::plugins::{PluginHost, ProbeOutcome};
use crate::state::AppState;

/// The `service` name `/health` answers with (seed 002), as `/api/dev/ping` does.
pub const SERVICE: &str = "podplay-sanctuary";

/// The least time the database check is given, in ms, whatever the probe deadline.
const DATABASE_DEADLINE_MS: u64 = 1000;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/detailed", get(detailed))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// One run of the checks, shared by the requests within the TTL.
#[derive(Debug)]
pub struct Snapshot {
    /// When the run began.
    started: Instant,
    /// The probes it ran (id and load time): a run over another set is not shared.
    ran: Vec<(String, DateTime<Utc>)>,
    /// When it ended, wall clock.
    checked_at: DateTime<Utc>,
    database_ok: bool,
    database_latency_ms: Option<f64>,
    database_error: Option<String>,
    probes: Vec<ProbeOutcome>,
    /// The overall status, pressure judged over time.
    status: &'static str,
    /// Probes under pressure: since when, and whether it has lasted long enough to count.
    pressure: Vec<Pressure>,
}

type ProbeRun = Shared<BoxFuture<'static, ProbeOutcome>>;

/// Runs the checks for `/health`: single-flight, under a deadline, shared for a TTL, and
/// remembers since when each probe has reported pressure.
pub struct Monitor {
    config: HealthConfig,
    /// Held while a run is under way: callers that miss the latest run wait here.
    latest: tokio::sync::Mutex<()>,
    /// The latest run.
    current: std::sync::RwLock<Option<Arc<Snapshot>>>,
    /// Probe runs that outlived a deadline, by probe version: the next check waits for
    /// them rather than start another.
    running: std::sync::Mutex<HashMap<String, ProbeRun>>,
    /// Since when each probe has reported pressure.
    pressure_since: std::sync::Mutex<HashMap<String, (Instant, DateTime<Utc>)>>,
}

impl Monitor {
    /// A monitor with `config`'s deadline, TTL and pressure delay.
    pub fn new(config: HealthConfig) -> Monitor {
        Monitor {
            config,
            latest: tokio::sync::Mutex::new(()),
            current: std::sync::RwLock::new(None),
            running: std::sync::Mutex::new(HashMap::new()),
            pressure_since: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The latest run if it began within the TTL of this call (or after it), else a new
    /// run. Concurrent callers share one run.
    pub async fn snapshot(&self, state: &AppState) -> Arc<Snapshot> {
        let arrived = Instant::now();
        if let Some(snap) = self.fresh(arrived, state) {
            return snap;
        }
        let _single_flight = self.latest.lock().await;
        if let Some(snap) = self.fresh(arrived, state) {
            return snap;
        }
        let snap = Arc::new(self.run(state).await);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(snap.clone());
        snap
    }

    /// The latest run, if it may answer a request that arrived at `arrived`.
    fn fresh(&self, arrived: Instant, state: &AppState) -> Option<Arc<Snapshot>> {
        let ttl = Duration::from_millis(self.config.cache_ttl_ms);
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let snap = current.as_ref()?;
        let recent = snap.started >= arrived || arrived.duration_since(snap.started) <= ttl;
        (recent && snap.ran == probe_set(&state.plugins)).then(|| snap.clone())
    }

    async fn run(&self, state: &AppState) -> Snapshot {
        let started = Instant::now();
        let ran = probe_set(&state.plugins);
        let deadline = tokio::time::Instant::from_std(started)
            + Duration::from_millis(self.config.probe_timeout_ms);
        // The database gets at least a second: a busy pool is not an outage.
        let db_deadline = tokio::time::Instant::from_std(started)
            + Duration::from_millis(self.config.probe_timeout_ms.max(DATABASE_DEADLINE_MS));
        let db = tokio::time::timeout_at(db_deadline, state.db.ping());
        let (db, probes) = tokio::join!(db, self.run_probes(&state.plugins, deadline));
        let (database_ok, database_latency_ms, database_error) = match db {
            Ok(Ok(latency)) => (true, Some(latency.as_secs_f64() * 1000.0), None),
            Ok(Err(e)) => (false, None, Some(e.to_string())),
            Err(_) => (
                false,
                None,
                Some(format!(
                    "the database did not answer within {} ms",
                    self.config.probe_timeout_ms.max(DATABASE_DEADLINE_MS)
                )),
            ),
        };
        let (status, pressure) = self.judge(database_ok, &probes);
        Snapshot {
            started,
            ran,
            checked_at: Utc::now(),
            database_ok,
            database_latency_ms,
            database_error,
            probes,
            status,
            pressure,
        }
    }

    /// Every health probe concurrently, each until `deadline`.
    async fn run_probes(
        &self,
        plugins: &Arc<PluginHost>,
        deadline: tokio::time::Instant,
    ) -> Vec<ProbeOutcome> {
        let probes = plugins.of_kind(Kind::HealthProbe);
        let runs = probes.into_iter().map(|live| {
            let id = live.id().to_string();
            let key = run_key(&live);
            let name = live.plugin.manifest.name.clone();
            let run = self.probe_run(plugins, live);
            async move {
                match tokio::time::timeout_at(deadline, run).await {
                    Ok(outcome) => {
                        lock(&self.running).remove(&key);
                        outcome
                    }
                    Err(_) => ProbeOutcome {
                        detail: format!(
                            "probe `{id}` did not answer within {} ms",
                            self.config.probe_timeout_ms
                        ),
                        id,
                        name,
                        status: "timeout".into(),
                        metrics: Vec::new(),
                        duration_ms: self.config.probe_timeout_ms as f64,
                    },
                }
            }
        });
        futures::future::join_all(runs).await
    }

    /// The probe's run still going from an earlier check, or a new one on its own task
    /// (so a deadline can end the wait whatever the guest does).
    fn probe_run(
        &self,
        plugins: &Arc<PluginHost>,
        live: Arc<crate::plugins::LivePlugin>,
    ) -> ProbeRun {
        let mut running = lock(&self.running);
        let key = run_key(&live);
        if let Some(run) = running.get(&key) {
            return run.clone();
        }
        let id = live.id().to_string();
        let host = plugins.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let result = host.runtime().probe(&live.plugin).await;
            crate::plugins::probe_outcome(&live, result, started.elapsed().as_secs_f64() * 1000.0)
        });
        let name = id.clone();
        let run = async move {
            task.await.unwrap_or_else(|e| ProbeOutcome {
                id: name.clone(),
                name,
                status: "error".into(),
                detail: format!("the probe's task ended: {e}"),
                metrics: Vec::new(),
                duration_ms: 0.0,
            })
        }
        .boxed()
        .shared();
        running.insert(key, run.clone());
        run
    }

    /// The overall status from the database and the probes, and the pressure details.
    fn judge(&self, database_ok: bool, probes: &[ProbeOutcome]) -> (&'static str, Vec<Pressure>) {
        let now = Instant::now();
        let sustain = Duration::from_secs(self.config.degraded_after_secs);
        let mut since = lock(&self.pressure_since);
        since.retain(|id, _| probes.iter().any(|p| p.id == *id && is_pressure(&p.status)));
        let mut degraded = false;
        let mut pressure = Vec::new();
        for probe in probes {
            match probe.status.as_str() {
                "healthy" => {}
                status if is_pressure(status) => {
                    let (first, first_wall) = *since
                        .entry(probe.id.clone())
                        .or_insert_with(|| (now, Utc::now()));
                    let lasted = now.duration_since(first);
                    let sustained = lasted >= sustain;
                    degraded |= sustained;
                    pressure.push(Pressure {
                        probe: probe.id.clone(),
                        status: status.to_owned(),
                        detail: probe.detail.clone(),
                        since: clock::format(first_wall),
                        seconds: lasted.as_secs_f64(),
                        sustained,
                    });
                }
                _ => degraded = true,
            }
        }
        let status = if !database_ok {
            "unhealthy"
        } else if degraded {
            "degraded"
        } else {
            "healthy"
        };
        (status, pressure)
    }
}

/// One version of a probe (a reloaded probe never waits on its old version's run).
fn run_key(live: &crate::plugins::LivePlugin) -> String {
    format!("{}@{}", live.id(), clock::format(live.loaded_at))
}

/// The live probes by id and load time: a snapshot answers only for the set it ran.
fn probe_set(plugins: &PluginHost) -> Vec<(String, DateTime<Utc>)> {
    plugins
        .of_kind(Kind::HealthProbe)
        .iter()
        .map(|live| (live.id().to_string(), live.loaded_at))
        .collect()
}

/// Resource pressure, which counts only once it lasts: a probe over a threshold, or one
/// too slow to answer in time.
fn is_pressure(status: &str) -> bool {
    matches!(status, "degraded" | "timeout")
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The host's own services, without running probes: what Socket.IO's `connected` event
/// announces.
pub async fn services(state: &AppState) -> Value {
    Value::Object(host_services(state, state.db.ping().await.is_ok()))
}

fn host_services(state: &AppState, database_ok: bool) -> Map<String, Value> {
    let providers = state.plugins.of_kind(Kind::AiProvider);
    let mut services = Map::new();
    services.insert(
        "database".into(),
        json!(if database_ok {
            "operational"
        } else {
            "unavailable"
        }),
    );
    services.insert(
        "mama_bear_agent".into(),
        json!(if !providers.is_empty() {
            "running"
        } else if state.plugins.is_starting() {
            "loading"
        } else {
            "unavailable"
        }),
    );
    services.insert("marketplace_manager".into(), json!("running"));
    services.insert(
        "plugin_runtime".into(),
        json!(if state.plugins.is_starting() {
            "loading"
        } else if state.plugins.failures().is_empty() {
            "running"
        } else {
            "degraded"
        }),
    );
    services
}

/// The host's services plus one entry per health probe, as `/health` lists them.
fn all_services(state: &AppState, snap: &Snapshot) -> Map<String, Value> {
    let mut services = host_services(state, snap.database_ok);
    for probe in &snap.probes {
        services.insert(probe.id.clone(), json!(probe.status));
    }
    services
}

/// The overall status of this answer: the snapshot's, and `degraded` at best while the
/// plugins are still loading.
fn overall(state: &AppState, snap: &Snapshot, loading: &[String]) -> &'static str {
    if snap.status == "healthy" && (!loading.is_empty() || state.plugins.is_starting()) {
        "degraded"
    } else {
        snap.status
    }
}

/// Seed 001's `checks`: the database, the plugin set and each probe.
fn checks(state: &AppState, snap: &Snapshot, loading: &[String]) -> Checks {
    let failed = state.plugins.failures();
    Checks {
        database: DatabaseCheck {
            status: database_status(snap),
            latency_ms: snap.database_latency_ms,
            error: snap.database_error.clone(),
        },
        plugins: PluginsCheck {
            status: if !loading.is_empty() || state.plugins.is_starting() {
                "loading"
            } else if failed.is_empty() {
                "loaded"
            } else {
                "degraded"
            },
            loaded: state.plugins.list().len(),
            loading: loading.to_vec(),
            failed,
        },
        probes: probe_reports(snap),
    }
}

/// Each probe's `{status, detail, duration_ms}`, by id.
fn probe_reports(snap: &Snapshot) -> BTreeMap<String, ProbeReport> {
    snap.probes
        .iter()
        .map(|p| {
            let report = ProbeReport {
                status: p.status.clone(),
                detail: p.detail.clone(),
                duration_ms: p.duration_ms,
            };
            (p.id.clone(), report)
        })
        .collect()
}

fn database_status(snap: &Snapshot) -> &'static str {
    if snap.database_ok {
        "operational"
    } else {
        "unavailable"
    }
}

/// While the start-up loading runs, waits for it up to the probe deadline: a warm start
/// (compiled components cached) then answers complete, a cold one names what loads.
async fn settle(state: &AppState) {
    if state.plugins.is_starting() {
        let limit = Duration::from_millis(state.config.health.probe_timeout_ms);
        state.plugins.wait_started(limit).await;
    }
}

#[utoipa::path(
    get, path = "/health", tag = "health",
    summary = "Health",
    description = "Health: `{status, service, version, backend_running, timestamp, uptime, services, checks, probes, loading, pressure}`; probes run under `[health] probe_timeout_ms` and are shared for `[health] cache_ttl_ms`",
    responses(
        (status = 200, description = "Health", body = Health),
    ),
)]
async fn health(State(state): State<AppState>) -> Json<Health> {
    settle(&state).await;
    let snap = state.health.snapshot(&state).await;
    let loading = state.plugins.loading();
    let services = all_services(&state, &snap);
    let probes = probe_reports(&snap);
    Json(Health {
        backend_running: true,
        checked_at: clock::format(snap.checked_at),
        checks: checks(&state, &snap, &loading),
        status: overall(&state, &snap, &loading),
        loading,
        pressure: snap.pressure.clone(),
        probes,
        service: SERVICE,
        services,
        timestamp: clock::timestamp(),
        uptime: state.uptime(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /health` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `true`.
    backend_running: bool,
    /// When the checks ran (RFC 3339); they are shared for `[health] cache_ttl_ms`.
    checked_at: String,
    /// The checks: the database, the plugin set, each probe.
    checks: Checks,
    /// Plugins still loading.
    loading: Vec<String>,
    /// Probes under pressure: since when, and whether it has lasted long enough to count.
    pressure: Vec<Pressure>,
    /// Each health-probe plugin's `{status, detail, duration_ms}`, by id.
    probes: BTreeMap<String, ProbeReport>,
    /// Always `podplay-sanctuary`.
    service: &'static str,
    /// Each service's status (`operational`, `running`, `loading`, ... or a probe's
    /// status), by name.
    #[schema(value_type = BTreeMap<String, String>)]
    services: Map<String, Value>,
    /// `healthy`, `degraded` or `unhealthy`.
    status: &'static str,
    /// When (RFC 3339).
    timestamp: String,
    /// Seconds since the server started.
    uptime: f64,
    /// The server's version.
    version: &'static str,
}

#[utoipa::path(
    get, path = "/health/detailed", tag = "health",
    summary = "Every service, probe, provider, plugin and system figure",
    description = "Every service, probe, provider, plugin and system figure",
    responses(
        (status = 200, description = "Detailed health", body = DetailedHealth),
    ),
)]
async fn detailed(State(state): State<AppState>) -> Json<DetailedHealth> {
    settle(&state).await;
    let snap = state.health.snapshot(&state).await;
    let loading = state.plugins.loading();
    let services = all_services(&state, &snap);
    let system = state.plugins.system();
    let memory = system.memory();
    let plugins: Vec<PluginDetail> = state
        .plugins
        .list()
        .iter()
        .map(|live| {
            let m = &live.plugin.manifest;
            PluginDetail {
                id: m.id.clone(),
                name: m.name.clone(),
                kind: m.kind,
                version: m.version.to_string(),
                api_version: live.plugin.api_version.clone(),
                state: "loaded",
                loaded_at: clock::format(live.loaded_at),
                tools: live.tools.iter().map(|t| t.name.clone()).collect(),
                stats: live.plugin.stats.snapshot(),
            }
        })
        .collect();
    let providers: Vec<ProviderDetail> = state
        .plugins
        .of_kind(Kind::AiProvider)
        .iter()
        .filter_map(|live| {
            let info = live.provider.as_ref()?;
            Some(ProviderDetail {
                id: live.id().to_string(),
                name: info.name.clone(),
                models: info.models.clone(),
                default_model: info.default_model.clone(),
                offline: info.offline,
                available: true,
            })
        })
        .collect();
    let (calls, errors) = state.plugins.list().iter().fold((0, 0), |(c, e), live| {
        let s = live.plugin.stats.snapshot();
        (c + s.calls, e + s.errors)
    });
    let services = services
        .into_iter()
        .map(|(name, status)| (name, status.as_str().unwrap_or_default().to_owned()))
        .collect();
    let process_memory_bytes = memory.host_process_bytes;
    Json(DetailedHealth {
        status: overall(&state, &snap, &loading),
        service: SERVICE,
        backend_running: true,
        timestamp: clock::timestamp(),
        uptime: state.uptime(),
        started_at: clock::format(state.started_wall),
        version: env!("CARGO_PKG_VERSION"),
        services,
        probes: snap.probes.clone(),
        checks: checks(&state, &snap, &loading),
        loading,
        pressure: snap.pressure.clone(),
        checked_at: clock::format(snap.checked_at),
        database: DatabaseDetail {
            status: database_status(&snap),
            kind: state.db.kind(),
            latency_ms: snap.database_latency_ms,
            error: snap.database_error.clone(),
        },
        ai_providers: providers,
        plugins,
        failed_plugins: state.plugins.failures(),
        system: SystemDetail {
            cpu: system.cpu(),
            memory,
            disks: system.disks(),
            network: system.network(),
        },
        performance: PerformanceDetail {
            uptime_seconds: state.uptime(),
            process_memory_bytes,
            plugin_calls: calls,
            plugin_errors: errors,
        },
    })
}

/// `GET /health/live`: the process serves (for a liveness probe); always 200.
#[utoipa::path(
    get, path = "/health/live", tag = "health",
    summary = "Liveness",
    description = "Liveness: `{status: \"alive\"}` whenever the process serves",
    responses(
        (status = 200, description = "Alive", body = Liveness),
    ),
)]
async fn live(State(state): State<AppState>) -> Json<Liveness> {
    Json(Liveness {
        service: SERVICE,
        status: "alive",
        timestamp: clock::timestamp(),
        uptime: state.uptime(),
    })
}

/// `GET /health/live` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `podplay-sanctuary`.
    service: &'static str,
    /// Always `alive`.
    status: &'static str,
    /// When (RFC 3339).
    timestamp: String,
    /// Seconds since the server started.
    uptime: f64,
}

/// `GET /health/ready` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Plugins that failed to load, with why.
    failed: BTreeMap<String, String>,
    /// How many plugins are loaded.
    loaded: usize,
    /// Plugins still loading.
    loading: Vec<String>,
    /// Whether the start-up loading is over.
    ready: bool,
    /// Always `podplay-sanctuary`.
    service: &'static str,
    /// `ready` or `starting`.
    status: &'static str,
    /// When (RFC 3339).
    timestamp: String,
}

/// `GET /health/ready`: 200 once every installed plugin is loaded or failed, 503 while
/// some are still loading (for a readiness probe or a load balancer), naming them.
#[utoipa::path(
    get, path = "/health/ready", tag = "health",
    summary = "Readiness",
    description = "Readiness: 200 once every installed plugin is loaded or failed, 503 while some still load (`loading` names them)",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Plugins are still loading", body = Readiness),
    ),
)]
async fn ready(State(state): State<AppState>) -> Response {
    let loading = state.plugins.loading();
    let starting = state.plugins.is_starting();
    let body = Readiness {
        failed: state.plugins.failures(),
        loaded: state.plugins.list().len(),
        loading,
        ready: !starting,
        service: SERVICE,
        status: if starting { "starting" } else { "ready" },
        timestamp: clock::timestamp(),
    };
    let status = if starting {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// Paths the host answers by itself, without plugins: they never wait for the start-up.
fn host_only(path: &str) -> bool {
    matches!(
        path,
        "/" | "/health" | "/metrics" | "/api/dev/ping" | "/api/dev/echo" | "/api/openapi.json"
    ) || path.starts_with("/health/")
        || path.starts_with("/socket.io")
}

/// Middleware: while the start-up loading is under way, a request that may need a
/// plugin waits for it to finish, up to `[health] startup_wait_ms`, then gets a 503
/// naming what is still loading (with `Retry-After`) — never an answer computed from an
/// incomplete plugin set, such as a 404 for a plugin that is merely not loaded yet.
pub async fn startup_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.plugins.is_starting() && !host_only(request.uri().path()) {
        let limit = Duration::from_millis(state.config.health.startup_wait_ms);
        if !state.plugins.wait_started(limit).await {
            let loading = state.plugins.loading();
            let mut response = crate::error::ApiError::unavailable(format!(
                "the server is starting: plugins still loading: {}",
                loading.join(", ")
            ))
            .with_error("starting")
            .with_details(json!({ "loading": loading }))
            .into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            return response;
        }
    }
    next.run(request).await
}
