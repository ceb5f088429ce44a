//! What a plugin may do, built from its manifest's permissions: the WASI context of each
//! call (no files, no network, no environment unless granted), its memory cap and its
//! time cap. Nothing here is allowed by default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::manifest::{FileGrant, Permissions};

/// Errors building a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A granted directory could not be opened.
    #[error("cannot open granted directory `{path}`: {reason}")]
    Dir {
        /// The host path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The limits and capabilities of one plugin, resolved against the host's data directory.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The permissions it was built from.
    pub permissions: Permissions,
    /// Granted directories as `(host path, guest path, writable)`.
    pub dirs: Vec<(PathBuf, String, bool)>,
}

/// How much guest stderr is kept per call.
const STDERR_CAPACITY: usize = 16 * 1024;

impl Sandbox {
    /// Resolves `permissions`: relative file grants are taken relative to `data_dir`, and
    /// created there when missing (the data directory is the host's own, so a plugin such
    /// as `filesystem` works from the first start; absolute grants must exist).
    pub fn new(permissions: &Permissions, data_dir: &Path) -> Sandbox {
        let dirs = permissions
            .files
            .iter()
            .map(
                |FileGrant {
                     path,
                     guest_path,
                     write,
                 }| {
                    let host = PathBuf::from(path);
                    let host = if host.is_absolute() {
                        host
                    } else {
                        let inside = data_dir.join(host);
                        if let Err(e) = std::fs::create_dir_all(&inside) {
                            tracing::warn!(dir = %inside.display(), cause = %e, "cannot create a granted directory");
                        }
                        inside
                    };
                    let guest = guest_path.clone().unwrap_or_else(|| path.clone());
                    (host, guest, *write)
                },
            )
            .collect();
        Sandbox {
            permissions: permissions.clone(),
            dirs,
        }
    }

    /// Memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.permissions.memory_mb as usize) << 20
    }

    /// Time cap of one call.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.permissions.timeout_ms)
    }

    /// Builds the WASI context of one call. `project` mounts a project directory read-only
    /// at `/project` (scout checks that asked for it). Guest stderr goes to the returned
    /// pipe so the host can log it with the plugin's id.
    pub fn wasi_ctx(&self, project: Option<&Path>) -> Result<(WasiCtx, MemoryOutputPipe), Error> {
        let mut builder = WasiCtxBuilder::new();
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        builder.stderr(stderr.clone());
        // Sockets: no raw TCP/UDP and no DNS. Outgoing HTTP (for allow-listed hosts) goes
        // through wasi:http, never through sockets.
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        for name in &self.permissions.env {
            if let Ok(value) = std::env::var(name) {
                builder.env(name, value);
            }
        }
        for (host, guest, write) in &self.dirs {
            let perms = if *write {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            builder
                .preopened_dir(host, guest, perms)
                .map_err(|e| Error::Dir {
                    path: host.display().to_string(),
                    reason: e.to_string(),
                })?;
        }
        if let Some(project) = project
            && self.permissions.project_dir
        {
            builder
                .preopened_dir(project, "/project", FsPerms::ReadOnly)
                .map_err(|e| Error::Dir {
                    path: project.display().to_string(),
                    reason: e.to_string(),
                })?;
        }
        Ok((builder.build(), stderr))
    }
}
