//! The plugin directory on disk, written so a crash never leaves a half-installed
//! plugin: a plugin is staged (component and `manifest.next.json`, each fsynced, then the
//! directory) before the database commit and committed (the manifest renamed into place)
//! after it; an uninstall renames the directory to `.trash-<id>-*` first. At start,
//! [`PluginHost::recover`] finishes or undoes whatever a crash cut short. A debug-only
//! pause hook ([`pause_at`]) lets crash tests `kill -9` the server at each step.

use std::path::Path;

use tracing::{info, warn};

use super::{MANIFEST_FILE, PluginHost, read_manifest};
use crate::manifest::Manifest;

impl PluginHost {
    /// Brings the plugins directory back to a state the database agrees with after a
    /// crash (run at start, before anything is loaded): a staged manifest
    /// ([`NEXT_MANIFEST_FILE`]) is committed when the database records its sha256 (the
    /// install had committed) and removed otherwise; a directory renamed away by an
    /// uninstall (`.trash-<id>-*`) is put back when the database still records the
    /// plugin, and deleted otherwise; temporary files and components no manifest names are
    /// removed, and a directory left with nothing in it.
    pub async fn recover(&self) {
        let Ok(entries) = std::fs::read_dir(&self.plugins_dir) else {
            return;
        };
        let installs = self.installs();
        let recorded_sha = |id: String| async move {
            match installs {
                Some(installs) => installs
                    .install_record(&id)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.sha256),
                None => None,
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() {
                if name.contains(".tmp-") {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if let Some(rest) = name.strip_prefix(TRASH_PREFIX) {
                let id = rest.rsplit_once('-').map_or(rest, |(id, _)| id).to_string();
                let home = self.plugins_dir.join(&id);
                if recorded_sha(id.clone()).await.is_some() && !home.exists() {
                    warn!(plugin = %id, "an uninstall was cut short before the database forgot the plugin; restoring its files");
                    let _ = std::fs::rename(&path, &home);
                } else {
                    info!(plugin = %id, "removing the files of an uninstall cut short");
                    let _ = std::fs::remove_dir_all(&path);
                }
                continue;
            }
            let next = path.join(NEXT_MANIFEST_FILE);
            let staged_here = next.exists();
            if staged_here {
                let staged = std::fs::read_to_string(&next)
                    .ok()
                    .and_then(|t| Manifest::from_json(&t).ok());
                let committed = match &staged {
                    Some(m) => m.sha256.is_some() && recorded_sha(m.id.clone()).await == m.sha256,
                    None => false,
                };
                if committed {
                    warn!(dir = %path.display(), "an install was cut short after the database commit; finishing it");
                    if let Err(e) = commit_plugin(&path) {
                        warn!(dir = %path.display(), cause = %e, "cannot finish the install");
                    }
                } else {
                    warn!(dir = %path.display(), "an install was cut short before the database commit; undoing it");
                    let _ = std::fs::remove_file(&next);
                }
            }
            if path.join(MANIFEST_FILE).is_file() {
                remove_stale_files(&path);
            } else if staged_here {
                unstage_plugin(&path);
            } else {
                remove_temp_files(&path);
            }
        }
        let _ = sync_dir(&self.plugins_dir);
    }
}

/// Name of a manifest written but not yet committed (see [`stage_plugin`]).
pub const NEXT_MANIFEST_FILE: &str = "manifest.next.json";

/// Prefix of a plugin directory being removed (`.trash-<id>-<pid>`), renamed out of the
/// way before the database forgets the plugin.
pub const TRASH_PREFIX: &str = ".trash-";

/// The sha256 (hex) of the component that plugin directory `dir`'s manifest names, or
/// `None` when the manifest or the component cannot be read.
pub fn component_digest(dir: &Path) -> Option<String> {
    let manifest = super::read_manifest(dir).ok()?;
    let bytes = std::fs::read(dir.join(manifest.component_file())).ok()?;
    Some(hex::encode(crate::signing::digest(&bytes)))
}

/// Writes a plugin's component and manifest into `dir` and commits them: see
/// [`stage_plugin`] and [`commit_plugin`].
pub fn write_plugin(dir: &Path, manifest: &Manifest, component: &[u8]) -> std::io::Result<()> {
    stage_plugin(dir, manifest, component)?;
    commit_plugin(dir)
}

/// The first half of writing a plugin: its component (under its own content-addressed
/// name, so the one the current manifest names is never disturbed) and its manifest as
/// [`NEXT_MANIFEST_FILE`], each written to a temporary file, fsynced and renamed into
/// place, then the directory fsynced. Nothing loads a staged manifest: after a crash,
/// start-up ([`PluginHost::recover`]) commits it when the database records its sha256
/// and removes it otherwise.
pub fn stage_plugin(dir: &Path, manifest: &Manifest, component: &[u8]) -> std::io::Result<()> {
    pause_at("stage");
    std::fs::create_dir_all(dir)?;
    sync_dir(dir.parent().unwrap_or(dir))?;
    // The staged manifest first: it marks the directory as one this host is writing, so
    // start-up can tell a cut-short install from files an operator is copying in.
    let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    write_atomic(&dir.join(NEXT_MANIFEST_FILE), &json)?;
    pause_at("manifest-staged");
    write_atomic(&dir.join(manifest.component_file()), component)?;
    sync_dir(dir)
}

/// The second half: renames the staged manifest over `manifest.json` (the single
/// switch-over point), fsyncs the directory, and removes components the manifest no
/// longer names.
pub fn commit_plugin(dir: &Path) -> std::io::Result<()> {
    pause_at("commit");
    std::fs::rename(dir.join(NEXT_MANIFEST_FILE), dir.join(MANIFEST_FILE))?;
    sync_dir(dir)?;
    remove_stale_files(dir);
    Ok(())
}

/// Undoes [`stage_plugin`] after a failure before the commit: removes the staged
/// manifest and components the current manifest does not name, and the directory when
/// nothing else is left in it.
pub fn unstage_plugin(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(NEXT_MANIFEST_FILE));
    remove_stale_files(dir);
    let _ = std::fs::remove_dir(dir);
}

/// Removes what a writer may have left in plugin directory `dir`: temporary files and
/// components the manifest does not name (all of them when there is no manifest).
fn remove_stale_files(dir: &Path) {
    let named = read_manifest(dir).ok().map(|m| m.component_file());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale_component = name.ends_with(".wasm") && named.as_deref() != Some(&*name);
        if name.contains(".tmp-") || stale_component {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn remove_temp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().contains(".tmp-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one, never
/// part of it: a temporary file beside it (same file system), synced, then renamed over
/// it. On failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// fsyncs directory `dir`, so the renames in it survive a power cut.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Crash tests: in debug builds only, when `SANCTUARY_TEST_PAUSE_AT` names `point`, writes
/// `<point>` to `SANCTUARY_TEST_PAUSE_FILE` (when set) and sleeps, so a test can `kill -9`
/// the server exactly there. Compiled out of release builds.
pub fn pause_at(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("SANCTUARY_TEST_PAUSE_AT").is_ok_and(|p| p.split(',').any(|p| p == point)) {
        if let Ok(file) = std::env::var("SANCTUARY_TEST_PAUSE_FILE") {
            let _ = std::fs::write(file, point);
        }
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
