//! What a plugin may do, as its manifest asks: files, network hosts, environment variables,
//! secrets, its project directory, memory and time (`Permissions`), the host's reserved
//! names no plugin is granted, and the narrowing of what was asked to what was granted.

use serde::{Deserialize, Serialize};

/// Prefix of the host's own environment variables and secrets: a name starting with it
/// can never be granted to a plugin, as an env var or as a secret.
pub const RESERVED_PREFIX: &str = "SANCTUARY_";

/// Whether `name` is one of the host's own: starts with [`RESERVED_PREFIX`] (any case) or
/// is listed in `extra` (`[security] reserved_env`).
pub fn is_reserved(name: &str, extra: &[String]) -> bool {
    name.to_ascii_uppercase().starts_with(RESERVED_PREFIX)
        || extra.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// The reserved names `permissions` asks for (env vars and secrets), in words; empty when
/// it asks for none.
pub fn reserved_asked(permissions: &Permissions, extra: &[String]) -> Vec<String> {
    let env = permissions
        .env
        .iter()
        .filter(|n| is_reserved(n, extra))
        .map(|n| format!("environment variable `{n}`"));
    let secrets = permissions
        .secrets
        .iter()
        .filter(|n| is_reserved(n, extra))
        .map(|n| format!("secret `{n}`"));
    env.chain(secrets).collect()
}

/// A directory a plugin may use, as the manifest asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FileGrant {
    /// Directory on the host: an absolute path, or a path relative to the files base
    /// `<data-dir>/files/` (no `..`). Never the data directory, above it, or the host's
    /// own files inside it (see [`crate::sandbox::resolve_grant`]).
    pub path: String,
    /// Where the plugin sees it; defaults to the same path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_path: Option<String>,
    /// Whether the plugin may write there (read-only otherwise).
    #[serde(default)]
    pub write: bool,
}

/// What a plugin may do. Everything not listed is denied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Hosts it may reach over outgoing HTTP (`api.example.com`, `localhost:8080`).
    #[serde(default)]
    pub network: Vec<String>,
    /// Directories it may read (or write).
    #[serde(default)]
    pub files: Vec<FileGrant>,
    /// Host environment variables passed into its WASI environment.
    #[serde(default)]
    pub env: Vec<String>,
    /// Secrets it may read through `host.secret`.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Scout checks only: mount the scouted project read-only at `/project`.
    #[serde(default)]
    pub project_dir: bool,
    /// Memory cap in MiB.
    #[serde(default = "default_memory_mb")]
    #[cfg_attr(feature = "openapi", schema(default = default_memory_mb))]
    pub memory_mb: u32,
    /// Time cap of one call in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(default = default_timeout_ms))]
    pub timeout_ms: u64,
}

/// Largest memory cap a manifest may ask for.
pub const MAX_MEMORY_MB: u32 = 1024;
/// Longest time cap a manifest may ask for.
pub const MAX_TIMEOUT_MS: u64 = 300_000;

fn default_memory_mb() -> u32 {
    64
}
fn default_timeout_ms() -> u64 {
    5_000
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions {
            network: Vec::new(),
            files: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            project_dir: false,
            memory_mb: default_memory_mb(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

impl Permissions {
    /// What `self` asks for that `granted` also allows: the permissions a plugin runs
    /// with while part of what it asks for waits for the operator's grant.
    pub fn restricted_to(&self, granted: &Permissions) -> Permissions {
        let files = self
            .files
            .iter()
            .filter_map(|f| {
                let g = granted.files.iter().find(|g| g.path == f.path)?;
                Some(FileGrant {
                    write: f.write && g.write,
                    ..f.clone()
                })
            })
            .collect();
        Permissions {
            network: keep(&self.network, &granted.network),
            files,
            env: keep(&self.env, &granted.env),
            secrets: keep(&self.secrets, &granted.secrets),
            project_dir: self.project_dir && granted.project_dir,
            memory_mb: self.memory_mb.min(granted.memory_mb),
            timeout_ms: self.timeout_ms.min(granted.timeout_ms),
        }
    }

    /// What a plugin asking for `self` runs with under the operator's `granted`: what it
    /// asks for that was granted ([`Permissions::restricted_to`]), plus network hosts the
    /// operator granted beyond what it asks for (the operator may widen a plugin's reach,
    /// e.g. let `fetch` read an internal host).
    pub fn effective(&self, granted: &Permissions) -> Permissions {
        let mut effective = self.restricted_to(granted);
        for host in &granted.network {
            if !effective.network.contains(host) {
                effective.network.push(host.clone());
            }
        }
        effective
    }

    /// `self` without any capability (network, files, env, secrets, project directory);
    /// the memory and time caps are kept.
    pub fn without_capabilities(&self) -> Permissions {
        Permissions {
            memory_mb: self.memory_mb,
            timeout_ms: self.timeout_ms,
            ..Permissions::default()
        }
    }

    /// What `self` asks for beyond `granted`, in words; empty when `granted` covers it.
    pub fn exceeds(&self, granted: &Permissions) -> Vec<String> {
        let mut more = Vec::new();
        for host in &self.network {
            if !granted.network.contains(host) {
                more.push(format!("network host `{host}`"));
            }
        }
        for file in &self.files {
            let covered = granted
                .files
                .iter()
                .any(|g| g.path == file.path && (g.write || !file.write));
            if !covered {
                let mode = if file.write { "read-write" } else { "read" };
                more.push(format!("{mode} access to `{}`", file.path));
            }
        }
        for var in &self.env {
            if !granted.env.contains(var) {
                more.push(format!("environment variable `{var}`"));
            }
        }
        for secret in &self.secrets {
            if !granted.secrets.contains(secret) {
                more.push(format!("secret `{secret}`"));
            }
        }
        if self.project_dir && !granted.project_dir {
            more.push("the project directory".into());
        }
        if self.memory_mb > granted.memory_mb {
            more.push(format!("{} MiB of memory", self.memory_mb));
        }
        if self.timeout_ms > granted.timeout_ms {
            more.push(format!("{} ms per call", self.timeout_ms));
        }
        more
    }
}

fn keep(asked: &[String], granted: &[String]) -> Vec<String> {
    asked
        .iter()
        .filter(|a| granted.contains(a))
        .cloned()
        .collect()
}
