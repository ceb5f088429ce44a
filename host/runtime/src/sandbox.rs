//! What a plugin may do, built from its manifest's permissions: the WASI context of each
//! call (no files, no network, no environment unless granted), its memory cap and its
//! time cap. Nothing here is allowed by default.
//!
//! File grants are checked here too ([`resolve_grant`]): an absolute path, or a path
//! relative to the files base `<data-dir>/files/`; never `..`, never the data directory,
//! anything above it, or anything inside it that the host owns (its database, `plugins/`,
//! `cache/`, `pending/`, temporary files).

use std::path::{Component, Path, PathBuf};
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

/// The directory relative file grants resolve in: `<data-dir>/files`.
pub fn files_base(data_dir: &Path) -> PathBuf {
    data_dir.join(FILES_DIR)
}

/// Name of the files base inside the data directory.
pub const FILES_DIR: &str = "files";

/// The rules a grant's path must follow on its own (without the data directory): not
/// empty, no `..` anywhere. Returns the reason when it breaks one.
pub fn check_grant_shape(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("a path must not be empty".into());
    }
    if path.contains('\0') {
        return Err(format!("`{path}` contains a NUL byte"));
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "`{path}` climbs with `..`; give an absolute path or one inside the files base \
             <data-dir>/{FILES_DIR}/"
        ));
    }
    Ok(())
}

/// Resolves a file grant to the host directory it names, or says why it is refused:
/// relative paths are taken inside [`files_base`] (created there when missing), absolute
/// ones as they are; either must not be (or, through symbolic links, lead to) the data
/// directory, a directory above it, or a directory inside it other than the files base.
pub fn resolve_grant(path: &str, data_dir: &Path) -> Result<PathBuf, String> {
    check_grant_shape(path)?;
    let asked = Path::new(path);
    let host = if asked.is_absolute() {
        asked.to_path_buf()
    } else {
        let mut inside = files_base(data_dir);
        inside.extend(
            asked
                .components()
                .filter(|c| matches!(c, Component::Normal(_))),
        );
        if let Err(e) = std::fs::create_dir_all(&inside) {
            tracing::warn!(dir = %inside.display(), cause = %e, "cannot create a granted directory");
        }
        inside
    };
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p));
    let data = real(data_dir);
    let base = real(&files_base(data_dir));
    let target = real(&host);
    if data.starts_with(&target) {
        return Err(format!(
            "`{path}` is the data directory or above it ({}); the host's own files are never granted",
            data.display()
        ));
    }
    if target.starts_with(&data) && !target.starts_with(&base) {
        return Err(format!(
            "`{path}` is inside the data directory ({}), which the host owns; grant a \
             directory inside <data-dir>/{FILES_DIR}/ or outside the data directory",
            target.display()
        ));
    }
    Ok(host)
}

fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How much guest stderr is kept per call.
const STDERR_CAPACITY: usize = 16 * 1024;

impl Sandbox {
    /// Resolves `permissions` with [`resolve_grant`]. A grant it refuses is left out (and
    /// logged): plugin loads check grants first and fail with the reason, so this only
    /// guards against a path that changed (e.g. became a link) since.
    pub fn new(permissions: &Permissions, data_dir: &Path) -> Sandbox {
        let dirs = permissions
            .files
            .iter()
            .filter_map(
                |FileGrant {
                     path,
                     guest_path,
                     write,
                 }| {
                    let host = resolve_grant(path, data_dir)
                        .inspect_err(|reason| {
                            tracing::warn!(%path, %reason, "file grant refused");
                        })
                        .ok()?;
                    let guest = guest_path.clone().unwrap_or_else(|| path.clone());
                    Some((host, guest, *write))
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
            if crate::manifest::is_reserved(name, &[]) {
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_grants_resolve_inside_the_files_base() {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let dir = resolve_grant(".", &data).expect("the base itself");
        assert_eq!(dir, files_base(&data));
        assert!(dir.is_dir());
        let docs = resolve_grant("docs", &data).expect("a directory inside the base");
        assert!(docs.is_dir() && docs.starts_with(files_base(&data)));
    }

    #[test]
    fn grants_of_the_data_directory_above_it_or_the_hosts_files_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        for dir in ["plugins", "cache", "pending"] {
            std::fs::create_dir_all(data.join(dir)).expect("mkdir");
        }
        std::fs::write(data.join("sanctuary.db"), b"").expect("db");
        let refused = [
            data.display().to_string(),
            root.path().display().to_string(),
            "/".to_string(),
            data.join("plugins").display().to_string(),
            data.join("cache").display().to_string(),
            data.join("sanctuary.db").display().to_string(),
            "../..".to_string(),
            "../plugins".to_string(),
        ];
        for path in refused {
            let err = resolve_grant(&path, &data).expect_err(&path);
            assert!(err.contains(&format!("`{path}`")), "{path}: {err}");
        }
        let outside = tempfile::tempdir().expect("tempdir");
        let ok = outside.path().display().to_string();
        assert_eq!(resolve_grant(&ok, &data).expect("outside"), outside.path());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_the_files_base_to_the_data_directory_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir_all(files_base(&data)).expect("mkdir");
        std::os::unix::fs::symlink(&data, files_base(&data).join("up")).expect("link");
        let err = resolve_grant("up", &data).expect_err("a link to the data directory");
        assert!(err.contains("data directory"), "{err}");
    }

    #[test]
    fn a_refused_grant_is_left_out_of_the_sandbox() {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let permissions = Permissions {
            files: vec![
                FileGrant {
                    path: data.display().to_string(),
                    guest_path: Some("/data".into()),
                    write: true,
                },
                FileGrant {
                    path: "docs".into(),
                    guest_path: Some("/docs".into()),
                    write: false,
                },
            ],
            ..Permissions::default()
        };
        let sandbox = Sandbox::new(&permissions, &data);
        assert_eq!(sandbox.dirs.len(), 1, "{:?}", sandbox.dirs);
        assert_eq!(sandbox.dirs[0].1, "/docs");
    }
}
