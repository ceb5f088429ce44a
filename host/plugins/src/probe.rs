//! What `/health` lists for one health-probe plugin: its report, or why the probe failed.

use serde::Serialize;

use super::LivePlugin;
use crate::runtime::CallError;
use crate::runtime::probe::ProbeReport;

/// The outcome of one health probe.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProbeOutcome {
    /// Probe plugin id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `healthy`, `degraded`, `unhealthy`, or `error` when the probe itself failed.
    pub status: String,
    /// One line of explanation.
    pub detail: String,
    /// Figures it measured.
    pub metrics: Vec<Metric>,
    /// How long the probe took.
    pub duration_ms: f64,
}

/// One figure reported by a probe.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Metric {
    /// Name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
}

/// A probe's report (or failure) as `/health` lists it.
pub fn probe_outcome(
    live: &LivePlugin,
    result: Result<ProbeReport, CallError>,
    duration_ms: f64,
) -> ProbeOutcome {
    let id = live.id().to_string();
    let name = live.plugin.manifest.name.clone();
    match result {
        Ok(report) => ProbeOutcome {
            id,
            name,
            status: report.status.as_str().to_string(),
            detail: report.detail,
            metrics: report
                .metrics
                .into_iter()
                .map(|m| Metric {
                    name: m.name,
                    value: m.value,
                    unit: m.unit,
                })
                .collect(),
            duration_ms,
        },
        Err(e) => ProbeOutcome {
            id,
            name,
            status: "error".into(),
            detail: e.to_string(),
            metrics: Vec::new(),
            duration_ms,
        },
    }
}
