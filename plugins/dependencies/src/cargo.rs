//! Rust: `Cargo.toml` (`[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, their
//! `[target.*]` forms and `[workspace.dependencies]`) against `Cargo.lock`'s packages. A
//! renamed dependency (`alias = { package = "real" }`) is looked up by its real name.

use std::path::Path;

use toml::Table;

use crate::{Ecosystem, read_text};

const TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// What `root/Cargo.toml` declares; `None` without one.
pub fn read(root: &Path) -> Option<Ecosystem> {
    let mut eco = Ecosystem::new("Cargo.toml");
    let text = read_text(root, "Cargo.toml", &mut eco.notes)?;
    let manifest: Table = match text.parse() {
        Ok(table) => table,
        Err(e) => {
            eco.notes
                .push(format!("not valid TOML: {}", first_line(&e.to_string())));
            return Some(eco);
        }
    };
    let mut sections: Vec<&Table> = Vec::new();
    for name in TABLES {
        sections.extend(manifest.get(name).and_then(|v| v.as_table()));
    }
    if let Some(targets) = manifest.get("target").and_then(|v| v.as_table()) {
        for target in targets.values().filter_map(|v| v.as_table()) {
            for name in TABLES {
                sections.extend(target.get(name).and_then(|v| v.as_table()));
            }
        }
    }
    if let Some(deps) = manifest
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|v| v.as_table())
    {
        sections.push(deps);
    }
    for section in sections {
        for (key, spec) in section {
            let real = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            eco.declare(real);
        }
    }

    let mut lock_notes = Vec::new();
    if let Some(lock) = read_text(root, "Cargo.lock", &mut lock_notes) {
        eco.lock = Some("Cargo.lock");
        match lock.parse::<Table>() {
            Ok(lock) => {
                let packages = lock.get("package").and_then(|p| p.as_array());
                for package in packages.into_iter().flatten() {
                    if let Some(name) = package.get("name").and_then(|n| n.as_str()) {
                        eco.resolve(name);
                    }
                }
            }
            Err(e) => lock_notes.push(format!(
                "Cargo.lock is not valid TOML: {}",
                first_line(&e.to_string())
            )),
        }
    }
    eco.notes.extend(lock_notes);
    Some(eco)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(manifest: &str, lock: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Cargo.toml"), manifest).expect("write");
        if let Some(lock) = lock {
            std::fs::write(dir.path().join("Cargo.lock"), lock).expect("write");
        }
        dir
    }

    #[test]
    fn every_dependency_table_is_read_once_per_name() {
        let dir = project(
            r#"
            [package]
            name = "app"
            [dependencies]
            serde = { version = "1", features = ["derive"] }
            json = { package = "serde_json", version = "1" }
            [dev-dependencies]
            serde = "1"
            tempfile = "3"
            [build-dependencies]
            cc = "1"
            [target.'cfg(unix)'.dependencies]
            libc = "0.2"
            [workspace.dependencies]
            tokio = "1"
            "#,
            Some(
                "version = 4\n[[package]]\nname = \"serde\"\n[[package]]\nname = \"serde_json\"\n\
                 [[package]]\nname = \"libc\"\n",
            ),
        );
        let eco = read(dir.path()).expect("a Cargo project");
        assert_eq!(
            eco.declared,
            ["serde_json", "serde", "tempfile", "cc", "libc", "tokio"],
            "section by section, keys in name order (`json` before `serde`)"
        );
        assert_eq!(eco.lock, Some("Cargo.lock"));
        assert_eq!(eco.installed(), 3);
        assert_eq!(eco.total(), 6);
    }

    #[test]
    fn without_a_lock_file_nothing_is_installed() {
        let dir = project("[dependencies]\nserde = \"1\"\n", None);
        let eco = read(dir.path()).expect("a Cargo project");
        assert_eq!(eco.lock, None);
        assert_eq!(eco.installed(), 0);
        assert_eq!(eco.total(), 1);
    }

    #[test]
    fn a_broken_manifest_is_a_note_not_a_failure() {
        let dir = project("[dependencies\nserde = ", None);
        let eco = read(dir.path()).expect("a Cargo project");
        assert_eq!(eco.total(), 0);
        assert!(
            eco.notes[0].starts_with("not valid TOML"),
            "{:?}",
            eco.notes
        );
    }

    #[test]
    fn no_cargo_toml_means_no_rust_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).is_none());
    }
}
