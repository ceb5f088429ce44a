//! Everything a `scout-check` plugin needs: the [`ScoutCheck`] trait to implement and the
//! records of its findings. Export the implementation with
//! `sanctuary_plugin_api::export!(scout: MyCheck);`.
//!
//! The host mounts the project read-only at `project.path` (normally `/project`) for the
//! call when the manifest sets `permissions.project_dir`; read it with `std::fs`.

use crate::__private::scout_check::exports::sanctuary::plugin::scout as raw;
pub use crate::PluginError;
pub use raw::{BuildInfo, DependencyInfo, Findings, GitInfo, PerformanceInfo, Project};

/// A `scout-check` plugin: looks at a project and reports what it finds. Export the
/// implementing type with `sanctuary_plugin_api::export!(scout: MyCheck);`; the
/// [crate docs](crate#a-scout-check) have an example.
pub trait ScoutCheck {
    /// Examines `project` (mounted read-only at `project.path` when the manifest sets
    /// `permissions.project_dir`).
    fn check(project: Project) -> Result<Findings, PluginError>;
}

impl<T: ScoutCheck> raw::Guest for T {
    fn check(project: Project) -> Result<Findings, PluginError> {
        <T as ScoutCheck>::check(project)
    }
}

/// Findings that know nothing: fill in what your check does know with
/// `Findings { score: Some(..), ..Findings::default() }`.
impl Default for Findings {
    fn default() -> Self {
        Self {
            git: None,
            dependencies: None,
            build: None,
            performance: None,
            score: None,
            last_updated: None,
            notes: Vec::new(),
        }
    }
}

impl Findings {
    /// Adds a short human-readable remark.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_findings_know_nothing() {
        let findings = Findings::default();
        assert!(findings.git.is_none() && findings.score.is_none() && findings.notes.is_empty());
    }

    #[test]
    fn notes_are_appended_in_order() {
        let findings = Findings::default().with_note("a").with_note("b");
        assert_eq!(findings.notes, ["a", "b"]);
    }
}
