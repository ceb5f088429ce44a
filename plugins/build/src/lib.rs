//! The `build` scout check: what is known about a project's last build.
//!
//! 1. A report written by the project's own tooling, `.sanctuary/build.json`
//!    (`{last_build?, success?, errors?, build_time?, memory_usage?, cpu_usage?}`), is taken
//!    as the truth: build state, performance figures, and a score (100 on success, 0 on
//!    failure).
//! 2. Otherwise the newest modification time among the build output directories
//!    (`target/release`, `target/debug`, `dist`, `build`) and their direct entries is the
//!    last build. Outputs say a build ran, not how it ended: `success` is then reported as
//!    `true` because outputs exist, no score is given, and a note says the outcome was not
//!    recorded.
//! 3. Neither: no build findings, and a note says so.

use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::scout::{BuildInfo, Findings, PerformanceInfo, Project, ScoutCheck};
use serde::Deserialize;

/// Where a project's tooling reports its last build.
pub const REPORT: &str = ".sanctuary/build.json";
/// Build output directories, in the order they are looked at.
pub const OUTPUTS: [&str; 4] = ["target/release", "target/debug", "dist", "build"];
/// Most entries of one output directory looked at.
const MAX_ENTRIES: usize = 10_000;

/// `.sanctuary/build.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Report {
    last_build: Option<String>,
    success: Option<bool>,
    errors: Vec<String>,
    build_time: Option<f64>,
    memory_usage: Option<f64>,
    cpu_usage: Option<f64>,
}

struct Build;

impl ScoutCheck for Build {
    fn check(project: Project) -> Result<Findings, PluginError> {
        let root = Path::new(&project.path);
        if !root.is_dir() {
            return Err(PluginError::failed(format!(
                "project directory `{}` is not readable (is `project_dir` granted?)",
                project.path
            )));
        }
        Ok(inspect(root))
    }
}

sanctuary_plugin_api::export!(scout: Build);

/// Everything this check finds in the project at `root`.
pub fn inspect(root: &Path) -> Findings {
    let mut notes = Vec::new();
    match std::fs::read_to_string(root.join(REPORT)) {
        Ok(text) => match serde_json::from_str::<Report>(&text) {
            Ok(report) => return from_report(root, report),
            Err(e) => notes.push(format!("{REPORT} is not a valid build report: {e}")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => notes.push(format!("{REPORT} is not readable: {e}")),
    }

    let newest = OUTPUTS
        .iter()
        .filter_map(|dir| newest_in(&root.join(dir)).map(|at| (*dir, at)))
        .max_by_key(|(_, at)| *at);
    let Some((dir, at)) = newest else {
        notes.push(format!(
            "no build outputs ({}) and no {REPORT}: nothing known about builds",
            OUTPUTS.join(", ")
        ));
        return Findings {
            notes,
            ..Findings::default()
        };
    };
    notes.push(format!(
        "last build inferred from {dir}/; its outcome was not recorded (write {REPORT} to report it)"
    ));
    Findings {
        build: Some(BuildInfo {
            last_build: rfc3339(at),
            success: true,
            errors: Vec::new(),
        }),
        notes,
        ..Findings::default()
    }
}

fn from_report(root: &Path, report: Report) -> Findings {
    let success = report.success.unwrap_or(report.errors.is_empty());
    let last_build = report
        .last_build
        .filter(|t| DateTime::parse_from_rfc3339(t).is_ok())
        .or_else(|| modified(&root.join(REPORT)).map(rfc3339))
        .unwrap_or_default();
    let performance = (report.build_time.is_some()
        || report.memory_usage.is_some()
        || report.cpu_usage.is_some())
    .then(|| PerformanceInfo {
        build_time: report.build_time.unwrap_or(0.0),
        memory_usage: report.memory_usage.unwrap_or(0.0),
        cpu_usage: report.cpu_usage.unwrap_or(0.0),
    });
    let note = if success {
        format!("last build succeeded (from {REPORT})")
    } else {
        format!(
            "last build failed with {} error(s) (from {REPORT})",
            report.errors.len()
        )
    };
    Findings {
        build: Some(BuildInfo {
            last_build,
            success,
            errors: report.errors,
        }),
        performance,
        score: Some(if success { 100.0 } else { 0.0 }),
        notes: vec![note],
        ..Findings::default()
    }
}

/// The newest modification time of `dir` and its direct entries; `None` when `dir` is not
/// a directory.
fn newest_in(dir: &Path) -> Option<SystemTime> {
    if !dir.is_dir() {
        return None;
    }
    let mut newest = modified(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok).take(MAX_ENTRIES) {
            if let Ok(at) = entry.metadata().and_then(|m| m.modified()) {
                newest = Some(newest.map_or(at, |n| n.max(at)));
            }
        }
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

fn rfc3339(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn a_project_without_outputs_or_report_knows_nothing_about_builds() {
        let dir = project();
        let findings = inspect(dir.path());
        assert!(findings.build.is_none() && findings.score.is_none());
        assert!(
            findings.notes[0].contains("no build outputs"),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn build_outputs_give_the_last_build_but_no_score() {
        let dir = project();
        write(dir.path(), "target/debug/app", "binary");
        let findings = inspect(dir.path());
        let build = findings.build.expect("build");
        assert!(DateTime::parse_from_rfc3339(&build.last_build).is_ok());
        assert!(build.success && build.errors.is_empty());
        assert!(findings.score.is_none());
        assert!(
            findings.notes[0].contains("target/debug"),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn a_failed_report_is_taken_as_the_truth() {
        let dir = project();
        write(dir.path(), "dist/index.js", "x");
        write(
            dir.path(),
            REPORT,
            r#"{"last_build": "2024-05-01T10:00:00Z", "errors": ["E0308 mismatched types"], "build_time": 12.5}"#,
        );
        let findings = inspect(dir.path());
        let build = findings.build.expect("build");
        assert!(!build.success);
        assert_eq!(build.last_build, "2024-05-01T10:00:00Z");
        assert_eq!(build.errors, ["E0308 mismatched types"]);
        assert_eq!(findings.score, Some(0.0));
        let performance = findings.performance.expect("performance");
        assert_eq!(performance.build_time, 12.5);
    }

    #[test]
    fn a_successful_report_without_a_time_uses_the_report_file_time() {
        let dir = project();
        write(dir.path(), REPORT, r#"{"success": true}"#);
        let findings = inspect(dir.path());
        let build = findings.build.expect("build");
        assert!(build.success);
        assert!(DateTime::parse_from_rfc3339(&build.last_build).is_ok());
        assert_eq!(findings.score, Some(100.0));
        assert!(findings.performance.is_none());
    }

    #[test]
    fn a_malformed_report_falls_back_to_the_outputs_with_a_note() {
        let dir = project();
        write(dir.path(), REPORT, "{not json");
        write(dir.path(), "build/out.o", "x");
        let findings = inspect(dir.path());
        assert!(findings.build.is_some());
        assert!(findings.notes[0].contains("not a valid build report"));
    }
}
