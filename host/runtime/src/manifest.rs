//! Plugin manifests: what a plugin is (id, kind, version, marketplace fields), which WIT
//! API it needs, and what it may do (its permissions). Parsed strictly (unknown fields are
//! errors) and validated before anything is loaded.

use std::fmt;
use std::str::FromStr;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

mod permissions;

pub use permissions::*;

/// The latest version of the WIT package (`sanctuary:plugin`): the host's native API, and
/// the one the guest SDK (`sanctuary-plugin-api`) builds against.
pub const WIT_VERSION: Version = Version::new(0, 2, 2);

/// Every version of the WIT package this host serves, oldest first; the last is
/// [`WIT_VERSION`]. A released version is frozen: it stays here, unchanged, when a newer
/// one is added (see `wit/README.md`).
pub const SUPPORTED_WIT_VERSIONS: [Version; 4] = [
    Version::new(0, 1, 0),
    Version::new(0, 2, 0),
    Version::new(0, 2, 1),
    WIT_VERSION,
];

/// Whether a component built against `version` is served by the latest bindings: any
/// release of [`WIT_VERSION`]'s minor. Patch releases only add, and wasmtime's linker
/// resolves a `...@0.2.0` import or export against the host's `...@0.2.2` (semver
/// compatible), so only older minors need a converter module (`v0_1_0`).
pub fn is_native(version: &Version) -> bool {
    version.major == WIT_VERSION.major
        && version.minor == WIT_VERSION.minor
        && version.patch <= WIT_VERSION.patch
}

/// The supported versions as one line, e.g. `0.1.0, 0.2.0`, for error messages.
pub fn supported_versions() -> String {
    SUPPORTED_WIT_VERSIONS
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The manifest format version this host reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the manifest file in a plugin's directory (and in a plugin crate `sanctuary
/// plugin new` writes).
pub const MANIFEST_FILE: &str = "manifest.json";

/// Errors in a manifest; each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not JSON, or not the manifest's shape.
    #[error("invalid manifest: {0}")]
    Parse(#[from] serde_json::Error),
    /// `schema_version` is one this host cannot read.
    #[error("unsupported manifest schema_version {0} (this host reads {SCHEMA_VERSION})")]
    Schema(u32),
    /// A field has a value outside its rules.
    #[error("invalid manifest field `{field}`: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The plugin's `api` requirement matches no WIT version this host serves.
    #[error(
        "plugin `{id}` needs API {required}, but this host supports API versions {}",
        supported_versions()
    )]
    Incompatible {
        /// The plugin's id.
        id: String,
        /// The plugin's `api` requirement.
        required: VersionReq,
    },
    /// The plugin's component is built against a WIT version this host does not serve.
    #[error(
        "plugin `{id}` needs API {implemented} (its component is built against \
         sanctuary:plugin@{implemented}), but this host supports API versions {}",
        supported_versions()
    )]
    UnsupportedComponent {
        /// The plugin's id.
        id: String,
        /// The version the component imports and exports.
        implemented: Version,
    },
    /// The manifest's `api` requirement does not match the version the component is
    /// built against (e.g. `^0.1` for a component built against 0.2.0).
    #[error(
        "plugin `{id}`: its manifest asks for API {required}, but its component is built \
         against {implemented}; set `api` to \"^{}.{}\"",
        implemented.major,
        implemented.minor
    )]
    ApiMismatch {
        /// The plugin's id.
        id: String,
        /// The plugin's `api` requirement.
        required: VersionReq,
        /// The version the component imports and exports.
        implemented: Version,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The four kinds of plugin, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PluginKind))]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Exposes tools, resources and prompts (world `mcp-server`).
    McpServer,
    /// Answers chat (world `ai-provider`).
    AiProvider,
    /// Contributes to project status (world `scout-check`).
    ScoutCheck,
    /// Contributes to `/health` (world `health-probe`).
    HealthProbe,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 4] = [
        Kind::McpServer,
        Kind::AiProvider,
        Kind::ScoutCheck,
        Kind::HealthProbe,
    ];

    /// The kind's name as in manifests and the WIT world.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::McpServer => "mcp-server",
            Kind::AiProvider => "ai-provider",
            Kind::ScoutCheck => "scout-check",
            Kind::HealthProbe => "health-probe",
        }
    }

    /// The interface a component of this kind exports (without the version).
    pub fn export_interface(self) -> &'static str {
        match self {
            Kind::McpServer => "sanctuary:plugin/mcp",
            Kind::AiProvider => "sanctuary:plugin/provider",
            Kind::ScoutCheck => "sanctuary:plugin/scout",
            Kind::HealthProbe => "sanctuary:plugin/probe",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown plugin kind `{s}` (expected mcp-server, ai-provider, scout-check or health-probe)")
            })
    }
}

/// A plugin's manifest (`manifest.json` beside its component).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version; this host reads [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Stable id: lowercase letters, digits and `-`, at most 64 characters.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Which world the component implements.
    pub kind: Kind,
    /// The plugin's own version (semver, e.g. `0.1.0`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, examples("0.1.0")))]
    pub version: Version,
    /// Requirement on the host's WIT version, e.g. `^0.1`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, examples("^0.2")))]
    pub api: VersionReq,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Who wrote it.
    #[serde(default)]
    pub author: String,
    /// Marketplace category.
    #[serde(default)]
    pub category: String,
    /// Marketplace tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Marketplace download count.
    #[serde(default)]
    pub download_count: u64,
    /// Marketplace rating, 0-5.
    #[serde(default)]
    pub rating: f64,
    /// When the plugin was last published (RFC 3339).
    #[serde(default)]
    pub last_updated: String,
    /// Source repository.
    #[serde(default)]
    pub repository_url: String,
    /// Documentation.
    #[serde(default)]
    pub documentation_url: String,
    /// File name of the component, beside the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Hex sha256 of the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// ed25519 signature of the component's sha256, checked against the host's trusted
    /// keys on install (see [`crate::signing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signing::Signature>,
    /// What the plugin may do.
    #[serde(default)]
    pub permissions: Permissions,
    /// Per-plugin budgets it asks for (concurrent calls, calls and log lines a minute, kv
    /// quota), each capped by the host; see [`crate::budget`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<crate::budget::BudgetSpec>,
    /// Whether calls may share a warm instance (`"instances": "reuse"`); see
    /// [`Instances`].
    #[serde(default, skip_serializing_if = "Instances::is_fresh")]
    pub instances: Instances,
}

/// How the host instantiates a plugin for its calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Instances {
    /// Every call gets a new instance, torn down after it (the default).
    #[default]
    Fresh,
    /// The plugin declares that it keeps no per-caller state: the host may serve later
    /// calls of the same caller (one credential, or one client address) from a warm
    /// instance, which skips instantiation. Callers never share an instance, and an
    /// instance that trapped, overran a budget or wrote to stderr is never reused.
    Reuse,
}

impl Instances {
    /// Whether this is the default, [`Instances::Fresh`].
    pub fn is_fresh(&self) -> bool {
        *self == Instances::Fresh
    }
}

impl Manifest {
    /// Parses and validates a manifest.
    pub fn from_json(text: &str) -> Result<Manifest> {
        let manifest: Manifest = serde_json::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks every field's rules (not API compatibility: see [`Manifest::check_api`]).
    pub fn validate(&self) -> Result<()> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(Error::Schema(self.schema_version));
        }
        validate_id(&self.id)?;
        if self.name.trim().is_empty() {
            return Err(field("name", "must not be empty"));
        }
        if let Some(component) = &self.component
            && !is_plain_file_name(component)
        {
            return Err(field(
                "component",
                format!("`{component}` must be a plain file name ending in .wasm"),
            ));
        }
        if let Some(sha) = &self.sha256
            && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(field("sha256", "must be 64 hexadecimal digits"));
        }
        if let Some(signature) = &self.signature {
            crate::signing::check_shape(signature)
                .map_err(|e| field("signature", e.to_string()))?;
        }
        if !(0.0..=5.0).contains(&self.rating) {
            return Err(field("rating", "must be between 0 and 5"));
        }
        let p = &self.permissions;
        if p.memory_mb == 0 || p.memory_mb > MAX_MEMORY_MB {
            return Err(field(
                "permissions.memory_mb",
                format!("must be 1..={MAX_MEMORY_MB}"),
            ));
        }
        if p.timeout_ms == 0 || p.timeout_ms > MAX_TIMEOUT_MS {
            return Err(field(
                "permissions.timeout_ms",
                format!("must be 1..={MAX_TIMEOUT_MS}"),
            ));
        }
        if p.project_dir && self.kind != Kind::ScoutCheck {
            return Err(field(
                "permissions.project_dir",
                "only scout-check plugins are given a project directory",
            ));
        }
        for host in &p.network {
            if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
                return Err(field(
                    "permissions.network",
                    format!("`{host}` must be a host name, optionally with :port"),
                ));
            }
        }
        for name in p.env.iter().chain(&p.secrets) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(field(
                    "permissions.env/secrets",
                    format!("`{name}` must be letters, digits and `_`"),
                ));
            }
        }
        if let Some(name) = reserved_asked(p, &[]).into_iter().next() {
            return Err(field(
                "permissions.env/secrets",
                format!(
                    "{name} is reserved for the host ({RESERVED_PREFIX}* names are never granted to plugins)"
                ),
            ));
        }
        for file in &p.files {
            crate::sandbox::check_grant_shape(&file.path)
                .map_err(|reason| field("permissions.files", reason))?;
        }
        Ok(())
    }

    /// Refuses a plugin whose `api` requirement no version in [`SUPPORTED_WIT_VERSIONS`]
    /// meets. This is all that can be checked without the component (at install, before
    /// it is fetched); [`Manifest::check_component_api`] checks the component itself.
    pub fn check_api(&self) -> Result<()> {
        if SUPPORTED_WIT_VERSIONS.iter().any(|v| self.api.matches(v)) {
            Ok(())
        } else {
            Err(Error::Incompatible {
                id: self.id.clone(),
                required: self.api.clone(),
            })
        }
    }

    /// Refuses a plugin whose component is built against `implemented` when this host
    /// does not serve that version, or when the manifest's `api` requirement does not
    /// match it.
    pub fn check_component_api(&self, implemented: &Version) -> Result<()> {
        if !SUPPORTED_WIT_VERSIONS.contains(implemented) {
            return Err(Error::UnsupportedComponent {
                id: self.id.clone(),
                implemented: implemented.clone(),
            });
        }
        if !self.api.matches(implemented) {
            return Err(Error::ApiMismatch {
                id: self.id.clone(),
                required: self.api.clone(),
                implemented: implemented.clone(),
            });
        }
        Ok(())
    }

    /// The component's file name: as declared, or `<id>.wasm`.
    pub fn component_file(&self) -> String {
        self.component
            .clone()
            .unwrap_or_else(|| format!("{}.wasm", self.id))
    }
}

fn field(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Field {
        field,
        reason: reason.into(),
    }
}

/// Checks a plugin id by [`crate::ids`]' rules for plugins: `[a-z0-9][a-z0-9-]*`, at most 64
/// characters. Ids become file and directory names, so anything else (`..`, `/`, upper case)
/// is refused.
pub fn validate_id(id: &str) -> Result<()> {
    crate::ids::check(crate::ids::Kind::Plugin, id).map_err(|e| field("id", e.to_string()))
}

fn is_plain_file_name(name: &str) -> bool {
    name.ends_with(".wasm")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!({
            "schema_version": 1, "id": "time", "name": "Time", "kind": "mcp-server",
            "version": "0.1.0", "api": "^0.1",
            "permissions": { "memory_mb": 32, "timeout_ms": 2000 }
        })
    }

    fn parse(v: serde_json::Value) -> Result<Manifest> {
        Manifest::from_json(&v.to_string())
    }

    #[test]
    fn accepts_a_minimal_manifest_and_fills_defaults() {
        let m = parse(good()).expect("valid");
        assert_eq!(m.kind, Kind::McpServer);
        assert_eq!(m.permissions.memory_mb, 32);
        assert!(m.permissions.network.is_empty());
        assert_eq!(m.component_file(), "time.wasm");
        m.check_api().expect("compatible");
    }

    #[test]
    fn refuses_an_unknown_field_naming_it() {
        let mut v = good();
        v["permisions"] = serde_json::json!({});
        let err = parse(v).expect_err("typo").to_string();
        assert!(err.contains("permisions"), "{err}");
    }

    #[test]
    fn refuses_ids_that_could_escape_the_plugins_directory() {
        for id in ["../x", "a/b", "", "UPPER", "-x", "a.b"] {
            let mut v = good();
            v["id"] = id.into();
            let err = parse(v).expect_err(id).to_string();
            assert!(err.contains("`id`"), "{id}: {err}");
        }
    }

    #[test]
    fn refuses_an_incompatible_api_naming_it_and_every_supported_version() {
        let mut v = good();
        v["api"] = "^0.3".into();
        let m = parse(v).expect("valid otherwise");
        let err = m.check_api().expect_err("incompatible").to_string();
        assert!(
            err.contains("^0.3") && err.contains("0.1.0, 0.2.0"),
            "{err}"
        );
    }

    #[test]
    fn accepts_a_requirement_any_supported_version_meets() {
        for api in ["^0.1", "^0.2", "0.1.0", ">=0.1, <0.3", "~0.2.0"] {
            let mut v = good();
            v["api"] = api.into();
            parse(v).expect("valid").check_api().expect(api);
        }
    }

    #[test]
    fn checks_the_component_version_against_the_requirement_and_the_host() {
        let m = parse(good()).expect("valid: api ^0.1");
        m.check_component_api(&Version::new(0, 1, 0))
            .expect("a 0.1.0 component matches ^0.1");
        // `^0.1` does not admit 0.2.0: an old manifest cannot vouch for a newer component.
        let err = m
            .check_component_api(&Version::new(0, 2, 0))
            .expect_err("mismatch")
            .to_string();
        assert!(
            err.contains("^0.1") && err.contains("0.2.0") && err.contains("\"^0.2\""),
            "{err}"
        );
        let err = m
            .check_component_api(&Version::new(0, 3, 0))
            .expect_err("unsupported")
            .to_string();
        assert!(
            err.contains("needs API 0.3.0") && err.contains("0.1.0, 0.2.0"),
            "{err}"
        );
    }

    #[test]
    fn a_requirement_on_a_patch_release_refuses_components_built_before_it() {
        let mut v = good();
        v["api"] = "^0.2.1".into();
        let m = parse(v).expect("valid");
        m.check_api().expect("this host serves 0.2.1");
        m.check_component_api(&Version::new(0, 2, 1))
            .expect("a 0.2.1 component matches ^0.2.1");
        let err = m
            .check_component_api(&Version::new(0, 2, 0))
            .expect_err("0.2.0 lacks what ^0.2.1 asks for")
            .to_string();
        assert!(err.contains("^0.2.1") && err.contains("0.2.0"), "{err}");
    }

    #[test]
    fn the_latest_version_is_the_last_supported_one_and_serves_its_minor_natively() {
        assert_eq!(SUPPORTED_WIT_VERSIONS.last(), Some(&WIT_VERSION));
        assert!(SUPPORTED_WIT_VERSIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_native(&Version::new(0, 2, 0)) && is_native(&WIT_VERSION));
        assert!(!is_native(&Version::new(0, 1, 0)) && !is_native(&Version::new(0, 3, 0)));
        assert!(!is_native(&Version::new(0, 2, WIT_VERSION.patch + 1)));
    }

    #[test]
    fn refuses_a_component_path_with_directories() {
        let mut v = good();
        v["component"] = "../../etc/x.wasm".into();
        assert!(parse(v).is_err());
    }

    #[test]
    fn refuses_the_hosts_own_variables_as_env_or_secret_naming_them() {
        for (key, name) in [
            ("env", "SANCTUARY_ADMIN_TOKEN"),
            ("secrets", "SANCTUARY_ADMIN_TOKEN"),
            ("secrets", "sanctuary_database_url"),
        ] {
            let mut v = good();
            v["permissions"][key] = serde_json::json!([name]);
            let err = parse(v).expect_err(name).to_string();
            assert!(err.contains(name) && err.contains("reserved"), "{err}");
        }
        assert!(is_reserved("DATABASE_URL", &["database_url".into()]));
        assert!(!is_reserved("OPENAI_API_KEY", &["DATABASE_URL".into()]));
    }

    #[test]
    fn refuses_file_grants_that_climb_out_of_the_files_base() {
        for path in ["../..", "files/../../x", "/srv/../etc", ""] {
            let mut v = good();
            v["permissions"]["files"] = serde_json::json!([{ "path": path }]);
            let err = parse(v).expect_err(path).to_string();
            assert!(err.contains("permissions.files"), "{path}: {err}");
        }
        let mut v = good();
        v["permissions"]["files"] = serde_json::json!([{ "path": "." }, { "path": "/srv/docs" }]);
        parse(v).expect("plain grants");
    }

    #[test]
    fn a_restricted_grant_keeps_only_what_was_granted() {
        let asked = Permissions {
            network: vec!["a.example".into(), "b.example".into()],
            files: vec![FileGrant {
                path: "docs".into(),
                guest_path: None,
                write: true,
            }],
            secrets: vec!["KEY".into()],
            ..Permissions::default()
        };
        assert_eq!(
            asked.restricted_to(&asked.without_capabilities()),
            asked.without_capabilities()
        );
        let granted = Permissions {
            network: vec!["b.example".into()],
            files: vec![FileGrant {
                path: "docs".into(),
                guest_path: None,
                write: false,
            }],
            ..Permissions::default()
        };
        let effective = asked.restricted_to(&granted);
        assert_eq!(effective.network, ["b.example"]);
        assert!(!effective.files[0].write);
        assert!(effective.secrets.is_empty());
    }

    #[test]
    fn lists_permissions_asked_beyond_the_grant() {
        let granted = Permissions::default();
        let asked = Permissions {
            network: vec!["api.openai.com".into()],
            secrets: vec!["OPENAI_API_KEY".into()],
            ..Permissions::default()
        };
        let more = asked.exceeds(&granted);
        assert_eq!(more.len(), 2, "{more:?}");
        assert!(asked.exceeds(&asked).is_empty());
    }
}
