//! The scout agent: the status of the configured projects (`[[scout.projects]]`, by default
//! the working directory), built from what every `scout-check` plugin finds, and the
//! machine's figures.
//!
//! For one project every scout plugin runs concurrently on its directory; their findings
//! are merged into the seeds' ProjectStatus (for each part, `git`, `dependencies`, `build`,
//! `performance`, the first check by id that knows it wins). A failing check does not fail
//! the status: it is reported under its id in `checks`.
//!
//! - `health_score` is the mean of the checks' own scores (0-100), a failed check counting
//!   as 0 and a check without a score not counting; 0 when no check scored.
//! - `status` is `error` when the directory is missing, a check failed or the last build
//!   failed; `inactive` when no check found anything (not a repository, no manifests, no
//!   build); `active` otherwise. (`building` is never reported: no check can tell yet.)
//! - Parts no check knows keep neutral values (empty strings, zeros, `false`); `checks`
//!   says which check provided what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::config::{Config, ProjectConfig};
use crate::manifest::Kind;
use crate::runtime::CallError;
use crate::runtime::scout::Findings;
use crate::state::AppState;
use crate::system::Sampler;

/// Why a scout request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No configured project has this name.
    #[error("no project named `{0}` (projects come from [[scout.projects]] in the config)")]
    UnknownProject(String),
}

/// A project in the list (the seeds' Project).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectSummary {
    /// Name, as used in `/projects/{project_name}/status`.
    pub name: String,
    /// `active`, `inactive` or `error`.
    pub status: &'static str,
    /// When the project last changed (RFC 3339), empty when unknown.
    pub last_updated: String,
    /// 0-100.
    pub health_score: f64,
    /// Names of its declared dependencies.
    pub dependencies: Vec<String>,
}

/// The seeds' ProjectStatus, plus what each check reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectStatus {
    /// Name.
    pub name: String,
    /// `active`, `inactive` or `error`.
    pub status: &'static str,
    /// When the project last changed (RFC 3339), empty when unknown.
    pub last_updated: String,
    /// 0-100: the mean of the checks' scores.
    pub health_score: f64,
    /// Version control.
    pub git: Git,
    /// Dependencies.
    pub dependencies: Dependencies,
    /// The last build.
    pub build: Build,
    /// Build and run figures.
    pub performance: Performance,
    /// Each scout check by plugin id: what it provided, or why it failed.
    pub checks: BTreeMap<String, CheckReport>,
    /// Remarks of the checks and the host.
    pub notes: Vec<String>,
}

/// ProjectStatus `git`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Git {
    /// Current branch (`HEAD` when detached).
    pub branch: String,
    /// The last commit: short id and subject.
    pub last_commit: String,
    /// Whether tracked files differ from the last commit.
    pub dirty: bool,
}

/// ProjectStatus `dependencies`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Dependencies {
    /// Resolved dependencies (present in a lock file).
    pub installed: u32,
    /// Declared dependencies.
    pub total: u32,
    /// Names of outdated ones.
    pub outdated: Vec<String>,
}

/// ProjectStatus `build`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Build {
    /// When the last build finished (RFC 3339), empty when unknown.
    pub last_build: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Its errors.
    pub errors: Vec<String>,
}

/// ProjectStatus `performance`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Performance {
    /// Build time in seconds.
    pub build_time: f64,
    /// Memory use in megabytes.
    pub memory_usage: f64,
    /// CPU use in percent.
    pub cpu_usage: f64,
}

/// What one scout check reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckReport {
    /// `ok` or `error`.
    pub status: &'static str,
    /// Its own score, if it gave one.
    pub score: Option<f64>,
    /// The parts it knew (`git`, `dependencies`, `build`, `performance`).
    pub provides: Vec<&'static str>,
    /// Its remarks.
    pub notes: Vec<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: f64,
}

/// One check's outcome, before merging.
pub struct Outcome {
    /// Plugin id.
    pub id: String,
    /// What it found or why it failed.
    pub result: Result<Findings, CallError>,
    /// How long it took.
    pub duration_ms: f64,
}

/// The configured project `name`.
pub fn project<'a>(config: &'a Config, name: &str) -> Option<&'a ProjectConfig> {
    config.scout.projects.iter().find(|p| p.name == name)
}

/// The directory of project `name`, if it is configured.
pub fn project_dir(config: &Config, name: &str) -> Option<PathBuf> {
    project(config, name).map(|p| p.path.clone())
}

/// Every configured project, checked concurrently.
pub async fn projects(state: &AppState) -> Vec<ProjectSummary> {
    let checks = state
        .config
        .scout
        .projects
        .iter()
        .map(|project| state.scout.get(state, project));
    futures::future::join_all(checks)
        .await
        .into_iter()
        .map(|(status, names)| ProjectSummary {
            name: status.name,
            status: status.status,
            last_updated: status.last_updated,
            health_score: status.health_score,
            dependencies: names,
        })
        .collect()
}

/// The status of project `name`.
pub async fn status(state: &AppState, name: &str) -> Result<ProjectStatus, Error> {
    let project =
        project(&state.config, name).ok_or_else(|| Error::UnknownProject(name.to_string()))?;
    Ok(state.scout.get(state, project).await.0)
}

/// A project's status and its dependencies' names, as one check run found them.
type Checked = (ProjectStatus, Vec<String>);

/// The scout checks a run used (id and load time): a run over another set is not shared.
type CheckSet = Vec<(String, DateTime<Utc>)>;

/// One slot per project: the latest run, when it began and over which checks; its lock
/// makes concurrent requests share one run (single-flight).
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, CheckSet, Checked)>>>;

/// Project statuses shared between requests for `[scout] status_ttl_ms`: within it, a
/// request is answered from the run that began at most that long before it; concurrent
/// requests wait for the run in progress instead of starting their own. With a TTL of 0
/// every request gets a run that began after it arrived.
pub struct StatusCache {
    ttl: std::time::Duration,
    slots: std::sync::Mutex<BTreeMap<String, Slot>>,
}

impl StatusCache {
    /// A cache keeping each run for `ttl_ms` milliseconds.
    pub fn new(ttl_ms: u64) -> StatusCache {
        StatusCache {
            ttl: std::time::Duration::from_millis(ttl_ms),
            slots: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The status of `project`: shared within the TTL, else checked now.
    pub async fn get(&self, state: &AppState, project: &ProjectConfig) -> Checked {
        let arrived = Instant::now();
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.entry(project.name.clone()).or_default().clone()
        };
        let checks: CheckSet = state
            .plugins
            .of_kind(Kind::ScoutCheck)
            .iter()
            .map(|live| (live.id().to_string(), live.loaded_at))
            .collect();
        let mut slot = slot.lock().await;
        if let Some((started, ran, checked)) = slot.as_ref()
            && (*started >= arrived || arrived.duration_since(*started) <= self.ttl)
            && *ran == checks
        {
            return checked.clone();
        }
        let started = Instant::now();
        let checked = check_project(state, project).await;
        *slot = Some((started, checks, checked.clone()));
        checked
    }
}

/// Runs every scout check on `project`; its status and its dependencies' names.
async fn check_project(state: &AppState, project: &ProjectConfig) -> (ProjectStatus, Vec<String>) {
    let dir = &project.path;
    if !dir.is_dir() {
        return merge(&project.name, None, Vec::new());
    }
    let checks = state.plugins.of_kind(Kind::ScoutCheck);
    let runs = checks.iter().map(|live| async move {
        let started = Instant::now();
        let result = state
            .plugins
            .runtime()
            .scout(&live.plugin, &project.name, dir)
            .await;
        Outcome {
            id: live.id().to_string(),
            result,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    merge(&project.name, Some(dir), outcomes)
}

/// Merges the checks' outcomes for project `name` in `dir` (`None`: the directory is
/// missing) into its status and its dependencies' names. Outcomes are taken in id order.
pub fn merge(
    name: &str,
    dir: Option<&Path>,
    mut outcomes: Vec<Outcome>,
) -> (ProjectStatus, Vec<String>) {
    outcomes.sort_by(|a, b| a.id.cmp(&b.id));
    let mut git = None;
    let mut dependencies = None;
    let mut build = None;
    let mut performance = None;
    let mut checks = BTreeMap::new();
    let mut notes = Vec::new();
    let mut scores = Vec::new();
    let mut last_updated: Option<DateTime<Utc>> = None;
    let mut failed = false;
    if dir.is_none() {
        notes.push(format!("the directory of project `{name}` does not exist"));
    }
    for outcome in outcomes {
        let findings = match outcome.result {
            Ok(findings) => findings,
            Err(err) => {
                failed = true;
                scores.push(0.0);
                checks.insert(
                    outcome.id,
                    CheckReport {
                        status: "error",
                        score: None,
                        provides: Vec::new(),
                        notes: Vec::new(),
                        error: Some(err.to_string()),
                        duration_ms: outcome.duration_ms,
                    },
                );
                continue;
            }
        };
        let mut provides = Vec::new();
        if let Some(found) = findings.git {
            provides.push("git");
            git.get_or_insert(found);
        }
        if let Some(found) = findings.dependencies {
            provides.push("dependencies");
            dependencies.get_or_insert(found);
        }
        if let Some(found) = findings.build {
            provides.push("build");
            build.get_or_insert(found);
        }
        if let Some(found) = findings.performance {
            provides.push("performance");
            performance.get_or_insert(found);
        }
        let score = findings
            .score
            .map(|s| f64::from(s).clamp(0.0, 100.0))
            .filter(|s| s.is_finite());
        scores.extend(score);
        if let Some(at) = findings.last_updated.as_deref().and_then(parse_time) {
            last_updated = Some(last_updated.map_or(at, |prev| prev.max(at)));
        }
        notes.extend(
            findings
                .notes
                .iter()
                .map(|n| format!("{}: {n}", outcome.id)),
        );
        checks.insert(
            outcome.id,
            CheckReport {
                status: "ok",
                score,
                provides,
                notes: findings.notes,
                error: None,
                duration_ms: outcome.duration_ms,
            },
        );
    }

    let found_anything =
        git.is_some() || dependencies.is_some() || build.is_some() || performance.is_some();
    let build_failed = build.as_ref().is_some_and(|b| !b.success);
    let status = if dir.is_none() || failed || build_failed {
        "error"
    } else if !found_anything {
        "inactive"
    } else {
        "active"
    };
    let health_score = if scores.is_empty() {
        0.0
    } else {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        (mean * 10.0).round() / 10.0
    };
    let last_updated = last_updated
        .or_else(|| dir.and_then(modified))
        .map(clock::format)
        .unwrap_or_default();
    let names = dependencies
        .as_ref()
        .map(|d| d.names.clone())
        .unwrap_or_default();
    let status = ProjectStatus {
        name: name.to_string(),
        status,
        last_updated,
        health_score,
        git: git
            .map(|g| Git {
                branch: g.branch,
                last_commit: g.last_commit,
                dirty: g.dirty,
            })
            .unwrap_or_default(),
        dependencies: dependencies
            .map(|d| Dependencies {
                installed: d.installed,
                total: d.total,
                outdated: d.outdated,
            })
            .unwrap_or_default(),
        build: build
            .map(|b| Build {
                last_build: b.last_build,
                success: b.success,
                errors: b.errors,
            })
            .unwrap_or_default(),
        performance: performance
            .map(|p| Performance {
                build_time: p.build_time,
                memory_usage: p.memory_usage,
                cpu_usage: p.cpu_usage,
            })
            .unwrap_or_default(),
        checks,
        notes,
    };
    (status, names)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn modified(dir: &Path) -> Option<DateTime<Utc>> {
    let time = std::fs::metadata(dir).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(time))
}

/// `GET /api/v1/scout_agent/system/metrics`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemMetrics {
    /// Processor.
    pub cpu: CpuMetrics,
    /// Memory.
    pub memory: MemoryMetrics,
    /// Mounted filesystems.
    pub disk: Vec<DiskMetrics>,
    /// Network counters since boot, all interfaces.
    pub network: NetworkMetrics,
    /// Seconds the host has been up.
    pub uptime_seconds: f64,
    /// When sampled.
    pub timestamp: String,
}

/// Processor figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CpuMetrics {
    /// Busy share of all cores since the previous sample, 0-100.
    pub usage_percent: f32,
    /// Logical cores.
    pub cores: u32,
    /// 1, 5 and 15 minute load averages.
    pub load_average: [f64; 3],
}

/// Memory figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemoryMetrics {
    /// Installed bytes.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes available.
    pub available_bytes: u64,
    /// `used / total`, 0-100.
    pub usage_percent: f64,
    /// Resident bytes of the host process.
    pub host_process_bytes: u64,
}

/// One filesystem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskMetrics {
    /// Mount point.
    pub mount_point: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes available.
    pub available_bytes: u64,
    /// `used / total`, 0-100.
    pub usage_percent: f64,
}

/// Network counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NetworkMetrics {
    /// Bytes received.
    pub received_bytes: u64,
    /// Bytes sent.
    pub transmitted_bytes: u64,
}

/// Samples the machine (on a blocking thread: `sysinfo` reads `/proc` synchronously).
pub async fn system_metrics(sampler: Arc<Sampler>) -> anyhow::Result<SystemMetrics> {
    let metrics = tokio::task::spawn_blocking(move || {
        let cpu = sampler.cpu();
        let memory = sampler.memory();
        SystemMetrics {
            cpu: CpuMetrics {
                usage_percent: cpu.usage_percent,
                cores: cpu.cores,
                load_average: [cpu.load_average.0, cpu.load_average.1, cpu.load_average.2],
            },
            memory: MemoryMetrics {
                total_bytes: memory.total_bytes,
                used_bytes: memory.used_bytes,
                available_bytes: memory.available_bytes,
                usage_percent: percent(memory.used_bytes, memory.total_bytes),
                host_process_bytes: memory.host_process_bytes,
            },
            disk: sampler
                .disks()
                .into_iter()
                .map(|d| {
                    let used = d.total_bytes.saturating_sub(d.available_bytes);
                    DiskMetrics {
                        usage_percent: percent(used, d.total_bytes),
                        mount_point: d.mount_point,
                        total_bytes: d.total_bytes,
                        used_bytes: used,
                        available_bytes: d.available_bytes,
                    }
                })
                .collect(),
            network: {
                let n = sampler.network();
                NetworkMetrics {
                    received_bytes: n.received_bytes,
                    transmitted_bytes: n.transmitted_bytes,
                }
            },
            uptime_seconds: sampler.uptime_seconds(),
            timestamp: clock::timestamp(),
        }
    })
    .await?;
    Ok(metrics)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        let p = part as f64 * 100.0 / whole as f64;
        (p * 10.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::scout::{BuildInfo, DependencyInfo, GitInfo};

    fn ok(id: &str, findings: Findings) -> Outcome {
        Outcome {
            id: id.into(),
            result: Ok(findings),
            duration_ms: 1.0,
        }
    }

    fn empty() -> Findings {
        Findings {
            git: None,
            dependencies: None,
            build: None,
            performance: None,
            score: None,
            last_updated: None,
            notes: Vec::new(),
        }
    }

    fn git(dirty: bool) -> Findings {
        Findings {
            git: Some(GitInfo {
                branch: "main".into(),
                last_commit: "abc123 first".into(),
                dirty,
            }),
            score: Some(100.0),
            last_updated: Some("2024-01-01T12:00:00Z".into()),
            ..empty()
        }
    }

    fn dependencies() -> Findings {
        Findings {
            dependencies: Some(DependencyInfo {
                installed: 2,
                total: 3,
                outdated: vec![],
                names: vec!["serde".into(), "tokio".into(), "axum".into()],
            }),
            score: Some(50.0),
            last_updated: Some("2024-02-01T00:00:00Z".into()),
            ..empty()
        }
    }

    fn here() -> Option<&'static Path> {
        Some(Path::new("."))
    }

    #[test]
    fn findings_of_every_check_are_merged_into_the_seed_shape() {
        let (status, names) = merge(
            "web",
            here(),
            vec![ok("git", git(false)), ok("deps", dependencies())],
        );
        assert_eq!(status.status, "active");
        assert_eq!(status.git.branch, "main");
        assert_eq!(status.dependencies.installed, 2);
        assert_eq!(status.dependencies.total, 3);
        assert_eq!(names, ["serde", "tokio", "axum"]);
        assert_eq!(status.health_score, 75.0);
        assert_eq!(status.last_updated, "2024-02-01T00:00:00.000000Z");
        assert_eq!(status.checks["git"].provides, ["git"]);
        assert_eq!(status.checks["deps"].provides, ["dependencies"]);
        let body = serde_json::to_value(&status).expect("json");
        for key in ["name", "status", "last_updated", "health_score"] {
            assert!(body.get(key).is_some(), "{key}");
        }
        for (part, keys) in [
            ("git", &["branch", "last_commit", "dirty"][..]),
            ("dependencies", &["installed", "total", "outdated"][..]),
            ("build", &["last_build", "success", "errors"][..]),
            (
                "performance",
                &["build_time", "memory_usage", "cpu_usage"][..],
            ),
        ] {
            for key in keys {
                assert!(body[part].get(key).is_some(), "{part}.{key}: {body}");
            }
        }
    }

    #[test]
    fn a_failing_check_is_reported_and_counts_as_zero_without_failing_the_rest() {
        let failing = Outcome {
            id: "broken".into(),
            result: Err(CallError::Trap {
                plugin: "broken".into(),
                message: "unreachable".into(),
            }),
            duration_ms: 2.0,
        };
        let (status, _) = merge("web", here(), vec![ok("git", git(true)), failing]);
        assert_eq!(status.status, "error");
        assert_eq!(status.git.branch, "main", "the other check still counts");
        assert!(status.git.dirty);
        assert_eq!(status.health_score, 50.0);
        assert_eq!(status.checks["broken"].status, "error");
        assert!(
            status.checks["broken"]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("unreachable"))
        );
    }

    #[test]
    fn a_failed_build_makes_the_project_an_error() {
        let build = Findings {
            build: Some(BuildInfo {
                last_build: "2024-01-01T00:00:00Z".into(),
                success: false,
                errors: vec!["E0308".into()],
            }),
            ..empty()
        };
        let (status, _) = merge(
            "web",
            here(),
            vec![ok("build", build), ok("git", git(false))],
        );
        assert_eq!(status.status, "error");
        assert_eq!(status.build.errors, ["E0308"]);
    }

    #[test]
    fn a_project_nobody_found_anything_in_is_inactive_with_score_zero() {
        let (status, names) = merge(
            "web",
            here(),
            vec![ok(
                "git",
                Findings {
                    notes: vec!["not a repository".into()],
                    ..empty()
                },
            )],
        );
        assert_eq!(status.status, "inactive");
        assert_eq!(status.health_score, 0.0);
        assert!(names.is_empty());
        assert_eq!(status.notes, ["git: not a repository"]);
        let (status, _) = merge("web", here(), Vec::new());
        assert_eq!(status.status, "inactive");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let (status, _) = merge("gone", None, Vec::new());
        assert_eq!(status.status, "error");
        assert_eq!(status.last_updated, "");
        assert!(status.notes[0].contains("does not exist"));
    }

    #[test]
    fn the_first_check_by_id_wins_a_part_both_know() {
        let mut other = git(false);
        if let Some(g) = other.git.as_mut() {
            g.branch = "other".into();
        }
        let (status, _) = merge("web", here(), vec![ok("z", other), ok("a", git(false))]);
        assert_eq!(status.git.branch, "main");
    }

    #[tokio::test]
    async fn system_metrics_are_plausible() {
        let metrics = system_metrics(Arc::new(Sampler::new()))
            .await
            .expect("sampled");
        assert!(metrics.cpu.cores >= 1);
        assert!(metrics.memory.total_bytes > 0);
        assert!((0.0..=100.0).contains(&metrics.memory.usage_percent));
        assert!(metrics.disk.iter().all(|d| d.used_bytes <= d.total_bytes));
    }
}
