//! The marketplace index: a JSON file (`registry.json`, `schema_version` 1) whose
//! entries are plugin manifests with the seed's MCPServer fields. First-party entries
//! carry no `sha256`: their components are built from source and embedded in the binary,
//! so the host completes those entries from the build. Other entries name a component
//! file beside the registry and its sha256, which is verified before anything is written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artifacts;
use crate::manifest::{self, Kind, Manifest};

/// The registry built into the binary (`registry/registry.json`).
pub const EMBEDDED: &str = include_str!("../../../registry/registry.json");

/// The registry format version this host reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors reading a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unreadable file.
    #[error("cannot read registry {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not JSON, or not a registry's shape.
    #[error("invalid registry: {0}")]
    Parse(#[from] serde_json::Error),
    /// A version this host cannot read.
    #[error("unsupported registry schema_version {0} (this host reads {SCHEMA_VERSION})")]
    Schema(u32),
    /// An entry breaks the manifest rules.
    #[error("registry entry `{id}`: {source}")]
    Entry {
        /// The entry's id.
        id: String,
        /// What is wrong.
        source: manifest::Error,
    },
    /// An entry without a sha256 that is not a first-party plugin.
    #[error("registry entry `{0}` has no sha256 and is not a plugin built into this host")]
    Unverifiable(String),
    /// Two entries with one id.
    #[error("registry lists `{0}` twice")]
    Duplicate(String),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The file as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    schema_version: u32,
    #[serde(default)]
    name: String,
    plugins: Vec<serde_json::Value>,
}

/// Where an entry's component comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Embedded in the binary.
    Bundled(&'static [u8]),
    /// A file beside the registry.
    File(PathBuf),
}

/// One installable plugin.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its manifest, with `sha256` and `component` filled in.
    pub manifest: Manifest,
    /// Where its component is.
    pub source: Source,
}

impl Entry {
    /// Reads the component's bytes.
    pub fn component(&self) -> std::io::Result<Vec<u8>> {
        match &self.source {
            Source::Bundled(bytes) => Ok(bytes.to_vec()),
            Source::File(path) => std::fs::read(path),
        }
    }

    /// `bundled` or `registry`.
    pub fn origin(&self) -> &'static str {
        match self.source {
            Source::Bundled(_) => "bundled",
            Source::File(_) => "registry",
        }
    }
}

/// A parsed, validated registry.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Display name.
    pub name: String,
    /// Entries, sorted by id.
    pub entries: Vec<Entry>,
    /// Entries skipped because they break the rules (see [`Registry::load`]), with why.
    pub rejected: Vec<Rejected>,
}

/// A registry entry that was skipped.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Its id, or `entry-<n>` when it has none.
    pub id: String,
    /// Its kind, when it names a valid one.
    pub kind: Option<Kind>,
    /// What is wrong with it.
    pub reason: String,
}

impl Registry {
    /// The registry from `path`, or the embedded one. A file that is not a registry (not
    /// JSON, another `schema_version`) is an error; an entry that breaks the rules
    /// (invalid manifest, component path outside the registry's directory, missing
    /// component file, no sha256, duplicate id) is logged, listed in
    /// [`Registry::rejected`] and skipped, so the others stay installable.
    pub fn load(path: Option<&Path>) -> Result<Registry> {
        let registry = match path {
            None => Registry::parse_with(EMBEDDED, None, false)?,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                Registry::parse_with(&text, path.parent(), false)?
            }
        };
        for rejected in &registry.rejected {
            tracing::warn!(plugin = %rejected.id, reason = %rejected.reason, "registry entry skipped");
        }
        Ok(registry)
    }

    /// Parses registry text strictly (the first bad entry is the error); components of
    /// file entries are looked up in `dir`.
    pub fn parse(text: &str, dir: Option<&Path>) -> Result<Registry> {
        Registry::parse_with(text, dir, true)
    }

    fn parse_with(text: &str, dir: Option<&Path>, strict: bool) -> Result<Registry> {
        let file: RegistryFile = serde_json::from_str(text)?;
        if file.schema_version != SCHEMA_VERSION {
            return Err(Error::Schema(file.schema_version));
        }
        let mut entries = Vec::with_capacity(file.plugins.len());
        let mut rejected = Vec::new();
        for (n, value) in file.plugins.into_iter().enumerate() {
            let id = value
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("entry-{n}"), str::to_owned);
            let kind = value
                .get("kind")
                .and_then(|v| v.as_str())
                .and_then(|k| k.parse().ok());
            match Registry::entry(value, &id, dir, strict, &entries) {
                Ok(entry) => entries.push(entry),
                Err(e) if strict => return Err(e),
                Err(e) => rejected.push(Rejected {
                    id,
                    kind,
                    reason: e.to_string(),
                }),
            }
        }
        entries.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        Ok(Registry {
            name: file.name,
            entries,
            rejected,
        })
    }

    /// One entry of the file, checked; `entries` are those accepted before it. Outside
    /// `strict` mode, a file entry's component must exist.
    fn entry(
        value: serde_json::Value,
        id: &str,
        dir: Option<&Path>,
        strict: bool,
        entries: &[Entry],
    ) -> Result<Entry> {
        let mut manifest: Manifest = serde_json::from_value(value).map_err(|e| Error::Entry {
            id: id.to_string(),
            source: manifest::Error::Parse(e),
        })?;
        let id = manifest.id.clone();
        manifest.validate().map_err(|source| Error::Entry {
            id: id.clone(),
            source,
        })?;
        if entries.iter().any(|e: &Entry| e.manifest.id == id) {
            return Err(Error::Duplicate(id));
        }
        let source = match &manifest.sha256 {
            Some(_) => {
                let file = manifest.component_file();
                let dir = dir.map(Path::to_path_buf).unwrap_or_default();
                let path = dir.join(file);
                if !strict && !path.is_file() {
                    return Err(Error::Io {
                        path: path.display().to_string(),
                        reason: format!("the component of registry entry `{id}` is missing"),
                    });
                }
                Source::File(path)
            }
            None => {
                let bundled = artifacts::BUNDLED
                    .iter()
                    .find(|b| b.dir == id)
                    .ok_or_else(|| Error::Unverifiable(id.clone()))?;
                manifest.sha256 = Some(bundled.sha256.to_string());
                manifest.component = Some(crate::component_file_name(&id, bundled.sha256));
                Source::Bundled(bundled.component)
            }
        };
        Ok(Entry { manifest, source })
    }

    /// The entry `id`.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.manifest.id == id)
    }

    /// Entries matching `query` (in id, name, description, tags, author; case-insensitive)
    /// and `category` (exact, case-insensitive), optionally of one kind.
    pub fn search<'a>(
        &'a self,
        query: Option<&'a str>,
        category: Option<&'a str>,
        kind: Option<Kind>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let query = query
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        let category = category
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_lowercase);
        self.entries.iter().filter(move |e| {
            let m = &e.manifest;
            let kind_ok = kind.is_none_or(|k| m.kind == k);
            let category_ok = category
                .as_ref()
                .is_none_or(|c| m.category.to_lowercase() == *c);
            let query_ok = query.as_ref().is_none_or(|q| {
                [&m.id, &m.name, &m.description, &m.author]
                    .iter()
                    .any(|f| f.to_lowercase().contains(q.as_str()))
                    || m.tags.iter().any(|t| t.to_lowercase().contains(q.as_str()))
            });
            kind_ok && category_ok && query_ok
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_registry_lists_every_first_party_plugin_with_its_build_hash() {
        let registry = Registry::load(None).expect("embedded registry is valid");
        for bundled in artifacts::BUNDLED {
            let entry = registry
                .get(bundled.dir)
                .unwrap_or_else(|| panic!("{} has no registry entry", bundled.dir));
            assert_eq!(entry.manifest.sha256.as_deref(), Some(bundled.sha256));
            assert_eq!(entry.origin(), "bundled");
        }
    }

    #[test]
    fn first_party_entries_agree_with_the_plugins_own_manifests() {
        let registry = Registry::load(None).expect("valid");
        for bundled in artifacts::BUNDLED {
            let own = Manifest::from_json(bundled.manifest).expect("valid manifest");
            let listed = &registry.get(bundled.dir).expect("listed").manifest;
            assert_eq!(listed.kind, own.kind, "{}", own.id);
            assert_eq!(listed.version, own.version, "{}", own.id);
            assert_eq!(listed.api, own.api, "{}", own.id);
            assert_eq!(listed.permissions, own.permissions, "{}", own.id);
        }
    }

    #[test]
    fn search_matches_text_and_category_case_insensitively() {
        let registry = Registry::load(None).expect("valid");
        let hits: Vec<&str> = registry
            .search(Some("TIME"), None, None)
            .map(|e| e.manifest.id.as_str())
            .collect();
        assert!(hits.contains(&"time"), "{hits:?}");
        let none = registry
            .search(Some("no-such-thing-anywhere"), None, None)
            .count();
        assert_eq!(none, 0);
        let mcp = registry.search(None, None, Some(Kind::McpServer));
        assert!(mcp.into_iter().all(|e| e.manifest.kind == Kind::McpServer));
    }
}

/// Golden tests: every file under `registry/tests/` parses, or fails with the text in
/// its `.expected` file; and every good file validates against the published JSON Schema.
#[cfg(test)]
mod golden {
    use std::path::PathBuf;

    use super::*;

    fn dir(sub: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../registry")
            .join(sub)
    }

    fn files(sub: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir(sub))
            .unwrap_or_else(|e| panic!("{sub}: {e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no golden files in {sub}");
        files
    }

    fn expected(path: &Path) -> String {
        std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_string()
    }

    fn schema_value(name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(dir(name)).expect("schema file");
        serde_json::from_str(&text).expect("schema is JSON")
    }

    /// A validator for `name`; the registry schema's reference to the manifest schema (by
    /// its published `$id`) is resolved to the file beside it, with no network.
    fn schema(name: &str) -> jsonschema::Validator {
        let mut schema = schema_value(name);
        if name == "registry.schema.json" {
            let mut manifest = schema_value("manifest.schema.json");
            let manifest_id = manifest["$id"].clone();
            assert_eq!(
                schema["properties"]["plugins"]["items"]["$ref"],
                manifest_id
            );
            if let Some(m) = manifest.as_object_mut() {
                m.remove("$id");
                m.remove("$schema");
            }
            schema["properties"]["plugins"]["items"] = manifest;
        }
        jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
    }

    #[test]
    fn good_manifests_parse_and_match_the_json_schema() {
        let validator = schema("manifest.schema.json");
        for path in files("tests/manifests/good") {
            let text = std::fs::read_to_string(&path).expect("read");
            Manifest::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        }
    }

    #[test]
    fn bad_manifests_fail_with_the_expected_message() {
        for path in files("tests/manifests/bad") {
            let text = std::fs::read_to_string(&path).expect("read");
            let err = Manifest::from_json(&text)
                .err()
                .unwrap_or_else(|| panic!("{} should be refused", path.display()));
            let want = expected(&path);
            assert!(
                err.to_string().contains(&want),
                "{}:\n  got:  {err}\n  want: {want}",
                path.display()
            );
        }
    }

    #[test]
    fn bad_registries_fail_with_the_expected_message() {
        for path in files("tests/registries/bad") {
            let text = std::fs::read_to_string(&path).expect("read");
            let err = Registry::parse(&text, None)
                .err()
                .unwrap_or_else(|| panic!("{} should be refused", path.display()));
            let want = expected(&path);
            assert!(
                err.to_string().contains(&want),
                "{}:\n  got:  {err}\n  want: {want}",
                path.display()
            );
        }
    }

    #[test]
    fn a_bad_entry_is_skipped_with_its_reason_and_the_others_load() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("good.wasm"), b"component").expect("write");
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let entry = |id: &str, component: &str| {
            serde_json::json!({ "schema_version": 1, "id": id, "name": id,
                "kind": "mcp-server", "version": "1.0.0", "api": "^0.2",
                "component": component, "sha256": sha })
        };
        let text = serde_json::json!({ "schema_version": 1, "plugins": [
            entry("good", "good.wasm"),
            entry("outside", "../outside.wasm"),
            entry("missing", "missing.wasm"),
            { "schema_version": 1, "id": "shapeless", "kind": "health-probe" },
        ] })
        .to_string();
        let path = root.path().join("registry.json");
        std::fs::write(&path, text).expect("write");
        let registry = Registry::load(Some(&path)).expect("the registry loads");
        let ids: Vec<&str> = registry
            .entries
            .iter()
            .map(|e| e.manifest.id.as_str())
            .collect();
        assert_eq!(ids, ["good"]);
        let rejected: Vec<(&str, &str)> = registry
            .rejected
            .iter()
            .map(|r| (r.id.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(rejected.len(), 3, "{rejected:?}");
        assert!(
            rejected[0].0 == "outside" && rejected[0].1.contains("component"),
            "{rejected:?}"
        );
        assert!(
            rejected[1].0 == "missing" && rejected[1].1.contains("missing"),
            "{rejected:?}"
        );
        assert_eq!(registry.rejected[2].kind, Some(Kind::HealthProbe));
    }

    #[test]
    fn the_shipped_registry_matches_its_json_schema() {
        let validator = schema("registry.schema.json");
        let value: serde_json::Value = serde_json::from_str(EMBEDDED).expect("json");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}
