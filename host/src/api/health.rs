//! `GET /health` and `GET /health/detailed`: the database, the plugin runtime and every
//! health-probe plugin, aggregated into the seed's shape. A probe that crashes or times
//! out is reported as `error` under its id; the endpoint itself always answers.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::clock;
use crate::manifest::Kind;
use crate::plugins::ProbeOutcome;
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/detailed", get(detailed))
}

/// Everything one health answer is built from, gathered once.
struct Snapshot {
    database_ok: bool,
    database_latency_ms: Option<f64>,
    database_error: Option<String>,
    probes: Vec<ProbeOutcome>,
}

async fn snapshot(state: &AppState) -> Snapshot {
    let (db, probes) = tokio::join!(state.db.ping(), state.plugins.run_probes());
    let (database_ok, database_latency_ms, database_error) = match db {
        Ok(latency) => (true, Some(latency.as_secs_f64() * 1000.0), None),
        Err(e) => (false, None, Some(e.to_string())),
    };
    Snapshot {
        database_ok,
        database_latency_ms,
        database_error,
        probes,
    }
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
        json!(if providers.is_empty() {
            "unavailable"
        } else {
            "running"
        }),
    );
    services.insert("marketplace_manager".into(), json!("running"));
    services.insert(
        "plugin_runtime".into(),
        json!(if state.plugins.failures().is_empty() {
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

/// `healthy` when everything is; `unhealthy` without a database; `degraded` otherwise.
fn overall(snapshot: &Snapshot) -> &'static str {
    if !snapshot.database_ok {
        "unhealthy"
    } else if snapshot.probes.iter().all(|p| p.status == "healthy") {
        "healthy"
    } else {
        "degraded"
    }
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let snap = snapshot(&state).await;
    let services = all_services(&state, &snap);
    let probes: Map<String, Value> = snap
        .probes
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                json!({ "status": p.status, "detail": p.detail, "duration_ms": p.duration_ms }),
            )
        })
        .collect();
    Json(json!({
        "status": overall(&snap),
        "backend_running": true,
        "timestamp": clock::timestamp(),
        "uptime": state.uptime(),
        "services": services,
        "probes": probes,
    }))
}

async fn detailed(State(state): State<AppState>) -> Json<Value> {
    let snap = snapshot(&state).await;
    let services = all_services(&state, &snap);
    let system = &state.plugins.runtime().services().system;
    let memory = system.memory();
    let plugins: Vec<Value> = state
        .plugins
        .list()
        .iter()
        .map(|live| {
            let m = &live.plugin.manifest;
            json!({
                "id": m.id,
                "name": m.name,
                "kind": m.kind,
                "version": m.version.to_string(),
                "api_version": live.plugin.api_version,
                "state": "loaded",
                "loaded_at": clock::format(live.loaded_at),
                "tools": live.tools.iter().map(|t| &t.name).collect::<Vec<_>>(),
                "stats": live.plugin.stats.snapshot(),
            })
        })
        .collect();
    let providers: Vec<Value> = state
        .plugins
        .of_kind(Kind::AiProvider)
        .iter()
        .filter_map(|live| {
            let info = live.provider.as_ref()?;
            Some(json!({
                "id": live.id(),
                "name": info.name,
                "models": info.models,
                "default_model": info.default_model,
                "offline": info.offline,
                "available": true,
            }))
        })
        .collect();
    let (calls, errors) = state.plugins.list().iter().fold((0, 0), |(c, e), live| {
        let s = live.plugin.stats.snapshot();
        (c + s.calls, e + s.errors)
    });
    Json(json!({
        "status": overall(&snap),
        "backend_running": true,
        "timestamp": clock::timestamp(),
        "uptime": state.uptime(),
        "started_at": clock::format(state.started_wall),
        "version": env!("CARGO_PKG_VERSION"),
        "services": services,
        "probes": snap.probes,
        "database": {
            "status": if snap.database_ok { "operational" } else { "unavailable" },
            "kind": state.db.kind(),
            "latency_ms": snap.database_latency_ms,
            "error": snap.database_error,
        },
        "ai_providers": providers,
        "plugins": plugins,
        "failed_plugins": state.plugins.failures(),
        "system": {
            "cpu": system.cpu(),
            "memory": memory,
            "disks": system.disks(),
            "network": system.network(),
        },
        "performance": {
            "uptime_seconds": state.uptime(),
            "process_memory_bytes": memory.host_process_bytes,
            "plugin_calls": calls,
            "plugin_errors": errors,
        },
    }))
}
