//! Python: `requirements.txt` and `pyproject.toml` (PEP 621 `[project]` dependencies and
//! optional dependencies, Poetry's `[tool.poetry.*dependencies]`) against `poetry.lock` or
//! `uv.lock`. Without a lock file, a requirement pinned with `==` counts as resolved.
//! Names compare as PEP 503 says: case-insensitive, runs of `-`, `_`, `.` equal.

use std::path::Path;

use toml::Table;

use crate::{Ecosystem, read_text};

/// What the project's Python manifests declare; `None` without any.
pub fn read(root: &Path) -> Option<Ecosystem> {
    let mut notes = Vec::new();
    let requirements = read_text(root, "requirements.txt", &mut notes);
    let pyproject = read_text(root, "pyproject.toml", &mut notes);
    let manifest = match (&requirements, &pyproject) {
        (None, None) if notes.is_empty() => return None,
        (Some(_), Some(_)) => "requirements.txt + pyproject.toml",
        (None, Some(_)) => "pyproject.toml",
        _ => "requirements.txt",
    };
    let mut eco = Ecosystem::new(manifest);
    eco.fold_case = true;
    eco.notes = notes;

    let mut pinned = Vec::new();
    if let Some(text) = &requirements {
        for line in text.lines() {
            if let Some((name, is_pinned)) = requirement(line) {
                eco.declare(name);
                if is_pinned {
                    pinned.push(name.to_string());
                }
            }
        }
    }
    if let Some(text) = &pyproject {
        match text.parse::<Table>() {
            Ok(table) => pyproject_names(&table, &mut eco),
            Err(e) => eco.notes.push(format!(
                "pyproject.toml is not valid TOML: {}",
                e.to_string().lines().next().unwrap_or_default()
            )),
        }
    }

    let mut lock_notes = Vec::new();
    for lock in ["poetry.lock", "uv.lock"] {
        let Some(text) = read_text(root, lock, &mut lock_notes) else {
            continue;
        };
        eco.lock = Some(lock);
        match text.parse::<Table>() {
            Ok(table) => {
                let packages = table.get("package").and_then(|p| p.as_array());
                for package in packages.into_iter().flatten() {
                    if let Some(name) = package.get("name").and_then(|n| n.as_str()) {
                        eco.resolve(name);
                    }
                }
            }
            Err(e) => lock_notes.push(format!(
                "{lock} is not valid TOML: {}",
                e.to_string().lines().next().unwrap_or_default()
            )),
        }
        break;
    }
    if eco.lock.is_none() && !pinned.is_empty() {
        eco.lock = Some("requirements.txt pins (==)");
        for name in &pinned {
            eco.resolve(name);
        }
    }
    eco.notes.extend(lock_notes);
    Some(eco)
}

/// A requirement line's project name and whether it pins an exact version; `None` for
/// blank lines, comments and options (`-r`, `-e`, `--index-url`, ...).
fn requirement(line: &str) -> Option<(&str, bool)> {
    let line = line.split(" #").next().unwrap_or_default().trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
        return None;
    }
    let name = pep508_name(line)?;
    let rest = &line[name.len()..];
    let pinned = rest.contains("==") && !rest.contains(',') && !rest.contains('*');
    Some((name, pinned))
}

/// The project name at the start of a PEP 508 requirement.
fn pep508_name(spec: &str) -> Option<&str> {
    let spec = spec.trim_start();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    (end > 0).then(|| &spec[..end])
}

fn pyproject_names(table: &Table, eco: &mut Ecosystem) {
    if let Some(project) = table.get("project") {
        let lists = project.get("dependencies").into_iter().chain(
            project
                .get("optional-dependencies")
                .and_then(|o| o.as_table())
                .into_iter()
                .flat_map(|t| t.values()),
        );
        for list in lists.filter_map(|l| l.as_array()) {
            for spec in list.iter().filter_map(|s| s.as_str()) {
                if let Some(name) = pep508_name(spec) {
                    eco.declare(name);
                }
            }
        }
    }
    let Some(poetry) = table.get("tool").and_then(|t| t.get("poetry")) else {
        return;
    };
    let mut sections: Vec<&Table> = ["dependencies", "dev-dependencies"]
        .iter()
        .filter_map(|s| poetry.get(*s).and_then(|d| d.as_table()))
        .collect();
    if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
        sections.extend(
            groups
                .values()
                .filter_map(|g| g.get("dependencies").and_then(|d| d.as_table())),
        );
    }
    for section in sections {
        for name in section.keys().filter(|k| *k != "python") {
            eco.declare(name);
        }
    }
}

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    #[test]
    fn requirement_lines_give_names_and_pins() {
        assert_eq!(requirement("Flask==3.0.0"), Some(("Flask", true)));
        assert_eq!(requirement("requests>=2 # http"), Some(("requests", false)));
        assert_eq!(
            requirement("uvicorn[standard]==0.30"),
            Some(("uvicorn", true))
        );
        assert_eq!(requirement("pkg @ https://x/y.whl"), Some(("pkg", false)));
        assert_eq!(requirement("django>=4,==4.2"), Some(("django", false)));
        for skipped in [
            "",
            "# comment",
            "-r other.txt",
            "--index-url https://x",
            "-e .",
        ] {
            assert_eq!(requirement(skipped), None, "{skipped}");
        }
    }

    #[test]
    fn names_compare_as_pep_503_says() {
        assert_eq!(normalise("Zope.Interface"), "zope-interface");
        assert_eq!(normalise("typing__extensions"), "typing-extensions");
    }

    #[test]
    fn a_poetry_project_is_resolved_by_its_lock_file() {
        let pyproject = r#"
            [project]
            dependencies = ["httpx>=0.27", "Pydantic[email]==2.0"]
            [project.optional-dependencies]
            test = ["pytest"]
            [tool.poetry.dependencies]
            python = "^3.11"
            fastapi = "*"
            [tool.poetry.group.dev.dependencies]
            ruff = "*"
        "#;
        let lock = "[[package]]\nname = \"httpx\"\n[[package]]\nname = \"pydantic\"\n[[package]]\nname = \"FastAPI\"\n";
        let dir = project(&[("pyproject.toml", pyproject), ("poetry.lock", lock)]);
        let eco = read(dir.path()).expect("a Python project");
        assert_eq!(
            eco.declared,
            ["httpx", "Pydantic", "pytest", "fastapi", "ruff"]
        );
        assert_eq!(eco.lock, Some("poetry.lock"));
        assert_eq!(eco.installed(), 3);
    }

    #[test]
    fn without_a_lock_file_pinned_requirements_count_as_resolved() {
        let dir = project(&[("requirements.txt", "flask==3.0.0\nrequests\nFlask>=1\n")]);
        let eco = read(dir.path()).expect("a Python project");
        assert_eq!(
            eco.declared,
            ["flask", "requests"],
            "Flask is the same project"
        );
        assert_eq!(eco.installed(), 1);
        assert_eq!(eco.lock, Some("requirements.txt pins (==)"));
    }

    #[test]
    fn no_python_manifest_means_no_python_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).is_none());
    }
}
