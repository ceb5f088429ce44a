//! Which version of the `sanctuary:plugin` API a component is built against, read from
//! the names of its imports and exports (`sanctuary:plugin/host@0.1.0`, ...) without
//! compiling it. The runtime uses it to pick the bindings and linker of that version and
//! to refuse versions it does not serve before spending time on compilation; tools (the
//! CLI's checks) use it to tell an author what their component implements.

use semver::Version;
use wasmparser::{Encoding, Parser, Payload};

use crate::manifest::{Kind, SUPPORTED_WIT_VERSIONS};

/// The WIT package every Sanctuary interface belongs to.
pub const PACKAGE: &str = "sanctuary:plugin";

/// What a component implements of the Sanctuary API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentApi {
    /// The `sanctuary:plugin` version its imports and exports name.
    pub version: Version,
    /// Its kind, from the interface it exports (`sanctuary:plugin/probe@...` is a
    /// health probe); `None` when it exports none of them.
    pub kind: Option<Kind>,
    /// The Sanctuary interfaces it imports, with versions (`sanctuary:plugin/kv@0.1.0`).
    pub imports: Vec<String>,
    /// The Sanctuary interfaces it exports, with versions.
    pub exports: Vec<String>,
    /// Whether this host serves that version (it is in [`SUPPORTED_WIT_VERSIONS`]).
    pub supported: bool,
}

impl ComponentApi {
    /// Whether it exports `interface` (`sanctuary:plugin/mcp-ext`), at any version: how
    /// the host tells an `mcp-server-ext` component (0.2.2) from a plain `mcp-server`.
    pub fn exports_interface(&self, interface: &str) -> bool {
        self.exports
            .iter()
            .any(|name| name.split_once('@').map_or(name.as_str(), |(i, _)| i) == interface)
    }
}

/// Why a component's API could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// Not a WebAssembly component (a core module, or not WebAssembly at all); the reason.
    #[error("{0}")]
    NotAComponent(String),
    /// It neither imports nor exports any `sanctuary:plugin` interface.
    #[error("imports and exports no sanctuary:plugin interface")]
    NoSanctuaryApi,
    /// A `sanctuary:plugin` name without a version, or with one that is not semver.
    #[error("names `{0}` without a valid version")]
    Unversioned(String),
    /// Its Sanctuary imports and exports name more than one version.
    #[error("mixes sanctuary:plugin versions {}", .0.join(" and "))]
    MixedVersions(Vec<String>),
}

/// Reads which `sanctuary:plugin` version (and kind) the component `bytes` is built
/// against, from the names of its top-level imports and exports. Cheap: nothing is
/// compiled or validated beyond what that needs.
pub fn api_version_of(bytes: &[u8]) -> Result<ComponentApi, InspectError> {
    let (imports, exports) = top_level_names(bytes)?;
    classify(imports, exports)
}

/// The API a component with these top-level import and export names implements.
fn classify(imports: Vec<String>, exports: Vec<String>) -> Result<ComponentApi, InspectError> {
    let imports: Vec<String> = imports.into_iter().filter(|n| is_sanctuary(n)).collect();
    let exports: Vec<String> = exports.into_iter().filter(|n| is_sanctuary(n)).collect();

    let mut versions: Vec<Version> = Vec::new();
    for name in imports.iter().chain(&exports) {
        let version = name
            .rsplit_once('@')
            .and_then(|(_, v)| Version::parse(v).ok())
            .ok_or_else(|| InspectError::Unversioned(name.clone()))?;
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    let version = match versions.as_slice() {
        [] => return Err(InspectError::NoSanctuaryApi),
        [one] => one.clone(),
        many => {
            let mut many: Vec<&Version> = many.iter().collect();
            many.sort();
            return Err(InspectError::MixedVersions(
                many.iter().map(|v| v.to_string()).collect(),
            ));
        }
    };
    let kind = exports.iter().find_map(|name| {
        let interface = name.split_once('@').map_or(name.as_str(), |(i, _)| i);
        Kind::ALL
            .into_iter()
            .find(|k| k.export_interface() == interface)
    });
    Ok(ComponentApi {
        supported: SUPPORTED_WIT_VERSIONS.contains(&version),
        version,
        kind,
        imports,
        exports,
    })
}

fn is_sanctuary(name: &str) -> bool {
    name.strip_prefix(PACKAGE)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The names of the component's own imports and exports (not those of the modules and
/// components nested inside it), all of them: Sanctuary's and WASI's.
pub fn top_level_names(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), InspectError> {
    let bad = |e: wasmparser::BinaryReaderError| {
        InspectError::NotAComponent(format!("not a valid WebAssembly file: {e}"))
    };
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(bad)? {
            Payload::Version { encoding, .. } if depth == 0 && encoding != Encoding::Component => {
                return Err(InspectError::NotAComponent(
                    "a core WebAssembly module, not a component (build for wasm32-wasip2, \
                     or run `wasm-tools component new`)"
                        .into(),
                ));
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.map_err(bad)?.name.0.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export.map_err(bad)?.name.0.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bytes_that_are_not_webassembly() {
        let err = api_version_of(b"not wasm").expect_err("garbage");
        assert!(matches!(err, InspectError::NotAComponent(_)), "{err:?}");
    }

    #[test]
    fn refuses_a_core_module_saying_so() {
        // The smallest core module: magic and version 1.
        let err = api_version_of(b"\0asm\x01\0\0\0").expect_err("a module");
        assert!(err.to_string().contains("core WebAssembly module"), "{err}");
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn refuses_a_component_mixing_versions_naming_them() {
        let err = classify(
            names(&["wasi:io/streams@0.2.6", "sanctuary:plugin/host@0.2.0"]),
            names(&["sanctuary:plugin/probe@0.1.0"]),
        )
        .expect_err("mixed");
        assert_eq!(err, InspectError::MixedVersions(names(&["0.1.0", "0.2.0"])));
    }

    #[test]
    fn refuses_unversioned_names_and_components_without_the_api() {
        let err = classify(names(&["sanctuary:plugin/host"]), Vec::new()).expect_err("no @");
        assert!(matches!(err, InspectError::Unversioned(_)), "{err:?}");
        let err = classify(
            names(&["wasi:cli/stdout@0.2.6"]),
            names(&["wasi:cli/run@0.2.6"]),
        )
        .expect_err("not a plugin");
        assert_eq!(err, InspectError::NoSanctuaryApi);
        // A look-alike package name is not ours.
        let err = classify(names(&["sanctuary:pluginx/host@0.1.0"]), Vec::new())
            .expect_err("another package");
        assert_eq!(err, InspectError::NoSanctuaryApi);
    }

    #[test]
    fn an_mcp_server_exporting_mcp_ext_is_still_an_mcp_server_and_says_so() {
        let api = classify(
            names(&["sanctuary:plugin/mcp-client@0.2.2"]),
            names(&[
                "sanctuary:plugin/mcp@0.2.2",
                "sanctuary:plugin/mcp-ext@0.2.2",
            ]),
        )
        .expect("read");
        assert_eq!(api.kind, Some(Kind::McpServer));
        assert!(api.exports_interface("sanctuary:plugin/mcp-ext"));
        let plain = classify(Vec::new(), names(&["sanctuary:plugin/mcp@0.2.1"])).expect("read");
        assert!(!plain.exports_interface("sanctuary:plugin/mcp-ext"));
        assert!(plain.exports_interface("sanctuary:plugin/mcp"));
    }

    #[test]
    fn a_component_importing_only_the_host_has_a_version_but_no_kind() {
        let api = classify(names(&["sanctuary:plugin/host@0.3.0"]), Vec::new()).expect("read");
        assert_eq!(api.version, Version::new(0, 3, 0));
        assert_eq!(api.kind, None);
        assert!(!api.supported);
    }
}
