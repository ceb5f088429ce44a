//! Node: `package.json` (`dependencies`, `devDependencies`, `optionalDependencies`) against
//! `package-lock.json` (lockfile v1 `dependencies`, v2/v3 top-level `node_modules/<name>`
//! packages) or, without it, `yarn.lock`.

use std::path::Path;

use serde_json::Value;

use crate::{Ecosystem, read_text};

const SECTIONS: [&str; 3] = ["dependencies", "devDependencies", "optionalDependencies"];

/// What `root/package.json` declares; `None` without one.
pub fn read(root: &Path) -> Option<Ecosystem> {
    let mut eco = Ecosystem::new("package.json");
    let text = read_text(root, "package.json", &mut eco.notes)?;
    let manifest: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => {
            eco.notes.push(format!("not valid JSON: {e}"));
            return Some(eco);
        }
    };
    for section in SECTIONS {
        if let Some(deps) = manifest.get(section).and_then(Value::as_object) {
            for name in deps.keys() {
                eco.declare(name);
            }
        }
    }

    let mut notes = Vec::new();
    if let Some(lock) = read_text(root, "package-lock.json", &mut notes) {
        eco.lock = Some("package-lock.json");
        match serde_json::from_str::<Value>(&lock) {
            Ok(lock) => package_lock(&lock, &mut eco),
            Err(e) => notes.push(format!("package-lock.json is not valid JSON: {e}")),
        }
    } else if let Some(lock) = read_text(root, "yarn.lock", &mut notes) {
        eco.lock = Some("yarn.lock");
        for name in yarn_lock_names(&lock) {
            eco.resolve(&name);
        }
    }
    eco.notes.extend(notes);
    Some(eco)
}

fn package_lock(lock: &Value, eco: &mut Ecosystem) {
    if let Some(packages) = lock.get("packages").and_then(Value::as_object) {
        for path in packages.keys() {
            // Only top-level installs: `node_modules/a`, `node_modules/@s/b`.
            if let Some(name) = path.strip_prefix("node_modules/")
                && !name.contains("/node_modules/")
            {
                eco.resolve(name);
            }
        }
    }
    if let Some(deps) = lock.get("dependencies").and_then(Value::as_object) {
        for name in deps.keys() {
            eco.resolve(name);
        }
    }
}

/// Package names of a `yarn.lock` (v1 and berry): each entry header lists
/// `name@range` specifiers, comma-separated, optionally quoted.
fn yarn_lock_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t', '#']) || !line.trim_end().ends_with(':') {
            continue;
        }
        let header = line.trim_end().trim_end_matches(':');
        for spec in header.split(',') {
            let spec = spec.trim().trim_matches('"');
            // A scoped name starts with `@`; the range follows the next `@`.
            let at = spec
                .char_indices()
                .skip(1)
                .find(|(_, c)| *c == '@')
                .map(|(i, _)| i);
            if let Some(at) = at {
                names.push(spec[..at].to_string());
            }
        }
    }
    names
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

    const PACKAGE: &str = r#"{
        "name": "web",
        "dependencies": {"react": "^18", "@scope/ui": "1"},
        "devDependencies": {"vite": "^5"},
        "peerDependencies": {"left-out": "*"}
    }"#;

    #[test]
    fn a_v3_package_lock_resolves_top_level_packages() {
        let lock = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "web"},
            "node_modules/react": {"version": "18.2.0"},
            "node_modules/@scope/ui": {"version": "1.0.0"},
            "node_modules/react/node_modules/vite": {"version": "5.0.0"}
        }}"#;
        let dir = project(&[("package.json", PACKAGE), ("package-lock.json", lock)]);
        let eco = read(dir.path()).expect("a Node project");
        assert_eq!(eco.declared, ["@scope/ui", "react", "vite"]);
        assert_eq!(eco.installed(), 2, "vite is only nested");
        assert_eq!(eco.lock, Some("package-lock.json"));
    }

    #[test]
    fn a_yarn_lock_is_read_when_there_is_no_package_lock() {
        let lock = "# yarn lockfile v1\n\n\"@scope/ui@1\", \"@scope/ui@^1.0.0\":\n  version \"1.0.0\"\n\nvite@^5:\n  version \"5.0.0\"\n";
        let dir = project(&[("package.json", PACKAGE), ("yarn.lock", lock)]);
        let eco = read(dir.path()).expect("a Node project");
        assert_eq!(eco.lock, Some("yarn.lock"));
        assert_eq!(eco.installed(), 2);
    }

    #[test]
    fn yarn_headers_give_names_scoped_or_not() {
        assert_eq!(
            yarn_lock_names("\"@a/b@^1\", \"@a/b@1.2\":\nc@2:\n  d@3:\n"),
            ["@a/b", "@a/b", "c"]
        );
    }
}
