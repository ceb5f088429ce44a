//! The `system` health probe: asks the host for its processor, memory and disk figures
//! (the `system` interface; a plugin cannot read `/proc` itself), compares them with the
//! operator's thresholds and reports `healthy`, or `degraded` naming every figure that
//! crossed its threshold.

use sanctuary_plugin_api::probe::system::{self, CpuFigures, DiskFigures, MemoryFigures};
use sanctuary_plugin_api::probe::{HealthProbe, Metric, ProbeReport};
use sanctuary_plugin_api::{PluginError, config};
use serde::Deserialize;

/// Thresholds in percent, from the plugin's configuration; a figure at or above its
/// threshold makes the probe `degraded`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Thresholds {
    cpu_percent: f64,
    memory_percent: f64,
    disk_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            cpu_percent: 90.0,
            memory_percent: 90.0,
            disk_percent: 90.0,
        }
    }
}

impl Thresholds {
    /// Refuses thresholds that are not percentages. 0 makes a figure always count as
    /// crossed and anything above 100 never, which is how an operator forces or silences
    /// one check.
    fn validate(&self) -> Result<(), PluginError> {
        for (name, value) in [
            ("cpu_percent", self.cpu_percent),
            ("memory_percent", self.memory_percent),
            ("disk_percent", self.disk_percent),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(PluginError::failed(format!(
                    "invalid plugin configuration: `{name}` must be a percentage of 0 or more, \
                     not {value}"
                )));
            }
        }
        Ok(())
    }
}

/// Everything the probe measured, gathered before it is judged.
struct Figures {
    cpu: CpuFigures,
    memory: MemoryFigures,
    disks: Vec<DiskFigures>,
    uptime_seconds: f64,
}

struct SystemProbe;

impl HealthProbe for SystemProbe {
    fn probe() -> Result<ProbeReport, PluginError> {
        let thresholds: Thresholds = config()?;
        thresholds.validate()?;
        let figures = Figures {
            cpu: system::cpu(),
            memory: system::memory(),
            disks: system::disks(),
            uptime_seconds: system::host_uptime_seconds(),
        };
        Ok(evaluate(&figures, &thresholds))
    }
}

sanctuary_plugin_api::export!(probe: SystemProbe);

/// `part` as a percentage of `total` (0 when `total` is 0).
fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// Judges `figures` against `thresholds`: the verdict, a one-line detail, the metrics.
fn evaluate(figures: &Figures, thresholds: &Thresholds) -> ProbeReport {
    let cpu = f64::from(figures.cpu.usage_percent);
    let memory = percent(figures.memory.used_bytes, figures.memory.total_bytes);
    // Pseudo or empty filesystems (size 0) say nothing about free space.
    let disks: Vec<(&str, f64)> = figures
        .disks
        .iter()
        .filter(|d| d.total_bytes > 0)
        .map(|d| {
            let used = d.total_bytes.saturating_sub(d.available_bytes);
            (d.mount_point.as_str(), percent(used, d.total_bytes))
        })
        .collect();

    let mut crossed = Vec::new();
    if cpu >= thresholds.cpu_percent {
        crossed.push(format!(
            "cpu {cpu:.0}% busy (threshold {}%)",
            thresholds.cpu_percent
        ));
    }
    if memory >= thresholds.memory_percent {
        crossed.push(format!(
            "memory {memory:.0}% used (threshold {}%)",
            thresholds.memory_percent
        ));
    }
    for (mount, used) in &disks {
        if *used >= thresholds.disk_percent {
            crossed.push(format!(
                "disk {mount} {used:.0}% used (threshold {}%)",
                thresholds.disk_percent
            ));
        }
    }

    let mut report = if crossed.is_empty() {
        let mut summary = format!("cpu {cpu:.0}%, memory {memory:.0}%");
        for (mount, used) in &disks {
            summary.push_str(&format!(", disk {mount} {used:.0}%"));
        }
        ProbeReport::healthy(summary)
    } else {
        ProbeReport::degraded(crossed.join("; "))
    };

    report = report
        .with_metric(Metric::new("cpu_usage", cpu, "percent"))
        .with_metric(Metric::new(
            "memory_used",
            figures.memory.used_bytes as f64,
            "bytes",
        ))
        .with_metric(Metric::new("memory_percent", memory, "percent"))
        .with_metrics(disks.iter().map(|(mount, used)| {
            Metric::new(format!("disk_used_percent:{mount}"), *used, "percent")
        }))
        .with_metric(Metric::new("load_1m", figures.cpu.load_average.0, "count"))
        .with_metric(Metric::new(
            "host_uptime",
            figures.uptime_seconds,
            "seconds",
        ))
        .with_metric(Metric::new(
            "host_process_memory",
            figures.memory.host_process_bytes as f64,
            "bytes",
        ));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::probe::HealthStatus;

    const GIB: u64 = 1 << 30;

    fn figures(cpu: f32, memory_used: u64, root_available: u64) -> Figures {
        Figures {
            cpu: CpuFigures {
                usage_percent: cpu,
                cores: 4,
                load_average: (0.5, 0.4, 0.3),
            },
            memory: MemoryFigures {
                total_bytes: 10 * GIB,
                used_bytes: memory_used,
                available_bytes: 10 * GIB - memory_used,
                host_process_bytes: 50 << 20,
            },
            disks: vec![
                DiskFigures {
                    mount_point: "/".into(),
                    total_bytes: 100 * GIB,
                    available_bytes: root_available,
                },
                DiskFigures {
                    mount_point: "/proc".into(),
                    total_bytes: 0,
                    available_bytes: 0,
                },
            ],
            uptime_seconds: 3600.0,
        }
    }

    fn metric(report: &ProbeReport, name: &str) -> Option<f64> {
        report
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    #[test]
    fn is_healthy_when_every_figure_is_below_its_threshold() {
        let report = evaluate(&figures(12.0, 4 * GIB, 60 * GIB), &Thresholds::default());
        assert_eq!(report.status, HealthStatus::Healthy);
        assert_eq!(report.detail, "cpu 12%, memory 40%, disk / 40%");
    }

    #[test]
    fn is_degraded_and_names_the_memory_threshold_it_crossed() {
        let report = evaluate(
            &figures(12.0, 9 * GIB + GIB / 10, 60 * GIB),
            &Thresholds::default(),
        );
        assert_eq!(report.status, HealthStatus::Degraded);
        assert_eq!(report.detail, "memory 91% used (threshold 90%)");
    }

    #[test]
    fn names_every_figure_that_crossed() {
        let thresholds = Thresholds {
            cpu_percent: 50.0,
            memory_percent: 90.0,
            disk_percent: 80.0,
        };
        let report = evaluate(&figures(75.0, GIB, 5 * GIB), &thresholds);
        assert_eq!(report.status, HealthStatus::Degraded);
        assert_eq!(
            report.detail,
            "cpu 75% busy (threshold 50%); disk / 95% used (threshold 80%)"
        );
    }

    #[test]
    fn reports_the_metrics_with_one_disk_figure_per_real_mount() {
        let report = evaluate(&figures(12.5, 4 * GIB, 60 * GIB), &Thresholds::default());
        assert_eq!(metric(&report, "cpu_usage"), Some(12.5));
        assert_eq!(metric(&report, "memory_used"), Some((4 * GIB) as f64));
        assert_eq!(metric(&report, "memory_percent"), Some(40.0));
        assert_eq!(metric(&report, "disk_used_percent:/"), Some(40.0));
        assert_eq!(metric(&report, "disk_used_percent:/proc"), None);
        assert_eq!(metric(&report, "load_1m"), Some(0.5));
        assert_eq!(metric(&report, "host_uptime"), Some(3600.0));
        assert_eq!(
            metric(&report, "host_process_memory"),
            Some((50u64 << 20) as f64)
        );
    }

    #[test]
    fn refuses_negative_thresholds_but_accepts_zero_and_over_a_hundred() {
        let bad = Thresholds {
            disk_percent: -1.0,
            ..Thresholds::default()
        };
        let err = bad.validate().expect_err("-1% is not a threshold");
        assert!(err.message().contains("`disk_percent`"), "{err:?}");
        let forced = Thresholds {
            cpu_percent: 0.0,
            memory_percent: 101.0,
            disk_percent: 100.0,
        };
        assert!(forced.validate().is_ok());
    }

    #[test]
    fn a_zero_threshold_always_counts_as_crossed_and_one_over_a_hundred_never() {
        let zero = Thresholds {
            memory_percent: 0.0,
            ..Thresholds::default()
        };
        let report = evaluate(&figures(12.0, GIB, 60 * GIB), &zero);
        assert_eq!(report.status, HealthStatus::Degraded);
        assert!(
            report.detail.starts_with("memory 10% used"),
            "{}",
            report.detail
        );

        let never = Thresholds {
            cpu_percent: 101.0,
            memory_percent: 101.0,
            disk_percent: 101.0,
        };
        let report = evaluate(&figures(100.0, 10 * GIB, 0), &never);
        assert_eq!(report.status, HealthStatus::Healthy, "{}", report.detail);
    }
}
