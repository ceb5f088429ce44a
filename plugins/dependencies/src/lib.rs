//! The `dependencies` scout check: reads the dependency manifests at the top of the project
//! (Rust `Cargo.toml`, Node `package.json`, Python `requirements.txt` / `pyproject.toml`),
//! counts the declared dependencies, and counts as installed those its lock file resolves
//! (`Cargo.lock`, `package-lock.json` / `yarn.lock`, `poetry.lock` / `uv.lock`). It has no
//! network, so it never claims to know which versions are outdated.
//!
//! Each ecosystem is a plain function over the project directory (`cargo`, `node`,
//! `python`), tested natively.

mod cargo;
mod node;
mod python;

use std::collections::BTreeSet;
use std::path::Path;

use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::scout::{DependencyInfo, Findings, Project, ScoutCheck};

/// What one ecosystem's manifest declares and its lock file resolves.
#[derive(Debug, Default, PartialEq)]
pub struct Ecosystem {
    /// The manifest read, e.g. `Cargo.toml`.
    pub manifest: &'static str,
    /// Declared dependency names, each once: section by section, in name order within a
    /// section (manifests are read as maps).
    pub declared: Vec<String>,
    /// The lock file read, if any.
    pub lock: Option<&'static str>,
    /// Names the lock file resolves (normalised like [`Ecosystem::key`]).
    pub resolved: BTreeSet<String>,
    /// Remarks (unreadable files and the like).
    pub notes: Vec<String>,
    /// How names compare: Python names ignore case and `-`/`_`/`.` differences.
    pub fold_case: bool,
}

impl Ecosystem {
    fn new(manifest: &'static str) -> Ecosystem {
        Ecosystem {
            manifest,
            ..Ecosystem::default()
        }
    }

    /// Adds a declared name unless already there.
    fn declare(&mut self, name: &str) {
        let name = name.trim();
        if !name.is_empty() && !self.declared.iter().any(|d| self.key(d) == self.key(name)) {
            self.declared.push(name.to_string());
        }
    }

    /// Records a name the lock file resolves.
    fn resolve(&mut self, name: &str) {
        let key = self.key(name);
        self.resolved.insert(key);
    }

    /// The form names are compared in.
    fn key(&self, name: &str) -> String {
        if self.fold_case {
            python::normalise(name)
        } else {
            name.to_string()
        }
    }

    /// Declared names the lock file resolves.
    pub fn installed(&self) -> u32 {
        let n = self
            .declared
            .iter()
            .filter(|d| self.resolved.contains(&self.key(d)))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Declared names.
    pub fn total(&self) -> u32 {
        u32::try_from(self.declared.len()).unwrap_or(u32::MAX)
    }
}

struct Dependencies;

impl ScoutCheck for Dependencies {
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

sanctuary_plugin_api::export!(scout: Dependencies);

/// Everything this check finds in the project at `root`.
pub fn inspect(root: &Path) -> Findings {
    let found: Vec<Ecosystem> = [cargo::read(root), node::read(root), python::read(root)]
        .into_iter()
        .flatten()
        .collect();
    if found.is_empty() {
        return Findings::default().with_note(
            "no dependency manifest found (Cargo.toml, package.json, requirements.txt, pyproject.toml)",
        );
    }
    let mut notes = Vec::new();
    let mut names = Vec::new();
    let (mut installed, mut total) = (0_u32, 0_u32);
    for eco in &found {
        installed = installed.saturating_add(eco.installed());
        total = total.saturating_add(eco.total());
        names.extend(eco.declared.iter().cloned());
        notes.push(match eco.lock {
            Some(lock) => format!(
                "{}: {} declared, {} resolved in {lock}",
                eco.manifest,
                eco.total(),
                eco.installed()
            ),
            None => format!(
                "{}: {} declared, no lock file: none counted as installed",
                eco.manifest,
                eco.total()
            ),
        });
        notes.extend(eco.notes.iter().map(|n| format!("{}: {n}", eco.manifest)));
    }
    notes.push("outdated versions are not checked (this check has no network)".into());
    let score = if total == 0 {
        100.0
    } else {
        (f64::from(installed) * 100.0 / f64::from(total)) as f32
    };
    Findings {
        dependencies: Some(DependencyInfo {
            installed,
            total,
            outdated: Vec::new(),
            names,
        }),
        score: Some(score),
        notes,
        ..Findings::default()
    }
}

/// Reads `root/name` as text: `None` when absent, a note when unreadable.
fn read_text(root: &Path, name: &str, notes: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(root.join(name)) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            notes.push(format!("{name} is not readable: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_without_manifests_has_no_dependency_findings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let findings = inspect(dir.path());
        assert!(findings.dependencies.is_none());
        assert!(findings.score.is_none());
        assert!(findings.notes[0].contains("no dependency manifest"));
    }

    #[test]
    fn ecosystems_add_up_and_the_score_is_the_resolved_share() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\n[dependencies]\nserde = \"1\"\ntokio = \"1\"\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("Cargo.lock"),
            "version = 4\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("requirements.txt"),
            "flask==3.0.0\nrequests\n",
        )
        .expect("write");
        let findings = inspect(dir.path());
        let deps = findings.dependencies.expect("dependencies");
        assert_eq!(deps.total, 4);
        assert_eq!(deps.installed, 2);
        assert_eq!(deps.names, ["serde", "tokio", "flask", "requests"]);
        assert!(deps.outdated.is_empty());
        assert_eq!(findings.score, Some(50.0));
        assert!(
            findings
                .notes
                .iter()
                .any(|n| n == "Cargo.toml: 2 declared, 1 resolved in Cargo.lock"),
            "{:?}",
            findings.notes
        );
    }
}
