//! Everything a `health-probe` plugin needs: the [`HealthProbe`] trait to implement, the
//! report it returns, and the host's [`system`] figures (processor, memory, disks,
//! network) that a probe compares with its thresholds. Export the implementation with
//! `sanctuary_plugin_api::export!(probe: MyProbe);`.

use crate::__private::health_probe::exports::sanctuary::plugin::probe as raw;
pub use crate::{Metric, PluginError};
pub use raw::{HealthStatus, ProbeReport};

/// Figures about the machine the host runs on (world `health-probe` only).
pub use crate::__private::health_probe::sanctuary::plugin::system;

/// A `health-probe` plugin: measures something and says whether it is healthy. Export the
/// implementing type with `sanctuary_plugin_api::export!(probe: MyProbe);`; the
/// [crate docs](crate#a-health-probe) have an example.
pub trait HealthProbe {
    /// Takes one measurement.
    fn probe() -> Result<ProbeReport, PluginError>;
}

impl<T: HealthProbe> raw::Guest for T {
    fn probe() -> Result<ProbeReport, PluginError> {
        <T as HealthProbe>::probe()
    }
}

impl ProbeReport {
    /// A report with `status` and `detail` and no metrics yet.
    pub fn new(status: HealthStatus, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            metrics: Vec::new(),
        }
    }

    /// Everything within thresholds.
    ///
    /// ```
    /// use sanctuary_plugin_api::probe::{HealthStatus, Metric, ProbeReport};
    ///
    /// let report = ProbeReport::healthy("ok").with_metric(Metric::new("answers", 42.0, "count"));
    /// assert_eq!(report.status, HealthStatus::Healthy);
    /// assert_eq!(report.metrics.len(), 1);
    /// ```
    pub fn healthy(detail: impl Into<String>) -> Self {
        Self::new(HealthStatus::Healthy, detail)
    }

    /// Working, but a threshold was crossed.
    pub fn degraded(detail: impl Into<String>) -> Self {
        Self::new(HealthStatus::Degraded, detail)
    }

    /// Not working.
    pub fn unhealthy(detail: impl Into<String>) -> Self {
        Self::new(HealthStatus::Unhealthy, detail)
    }

    /// Adds one measured figure.
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }

    /// Adds several measured figures.
    pub fn with_metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
        self.metrics.extend(metrics);
        self
    }
}

impl HealthStatus {
    /// The WIT name: `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl Metric {
    /// Figure `name` (snake_case) = `value` in `unit` (`percent`, `bytes`, `seconds`,
    /// `count`, `ms`, ...).
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_the_status() {
        assert_eq!(ProbeReport::healthy("a").status, HealthStatus::Healthy);
        assert_eq!(ProbeReport::degraded("b").status, HealthStatus::Degraded);
        assert_eq!(ProbeReport::unhealthy("c").status, HealthStatus::Unhealthy);
    }

    #[test]
    fn metrics_are_kept_in_order() {
        let report = ProbeReport::healthy("ok")
            .with_metric(Metric::new("a", 1.0, "count"))
            .with_metrics([Metric::new("b", 2.0, "bytes"), Metric::new("c", 3.0, "ms")]);
        let names: Vec<_> = report.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
