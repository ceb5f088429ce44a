//! Hot reload: watches `<data-dir>/plugins/` and feeds what changes there to the live set.
//!
//! File events are debounced (a component and its manifest arrive as a burst), mapped to
//! the plugin directory they touch, and handled one directory at a time in a single task,
//! so two changes to one plugin never race. Each directory is judged by what is on disk
//! when it is handled, not by the events: a directory with a manifest the live set is not
//! already serving is (re)loaded — [`PluginHost::load_dir`] swaps atomically, keeps the
//! old version on failure and announces the outcome; a directory without a manifest (or
//! gone) is unloaded. Each directory is handled under its plugin's change lock, so the
//! files an install or a followed change writes are loaded once, by it, not again here.
//!
//! The watching and debouncing (changes only: the host reads these files itself when it
//! loads a plugin) is the host's one file watcher, [`crate::watcher`].

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::RecursiveMode;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::manifest::Manifest;
use crate::runtime::LoadError;
use crate::watcher::{Batch, Debounce, FileWatcher};
use crate::{MANIFEST_FILE, PluginHost, read_manifest};

/// How long the directory must be quiet before its changes are handled. Writers rename
/// finished files into place, so this only has to cover one burst of renames.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// The longest changes wait for quiet: a writer that never pauses is still picked up.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Keeps the plugins directory watched; dropping it stops the watcher, and the task
/// handling its events ends once the events already queued are handled.
#[must_use = "dropping the handle stops watching"]
pub struct WatchHandle {
    _watcher: FileWatcher,
    dir: PathBuf,
}

impl WatchHandle {
    /// The directory being watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHandle")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Starts watching `plugins`' directory (creating it if missing) and spawns the task that
/// applies its changes to the live set. Must be called inside a tokio runtime.
pub fn spawn(plugins: Arc<PluginHost>) -> anyhow::Result<WatchHandle> {
    let runtime = tokio::runtime::Handle::try_current()
        .context("the plugin watcher runs on a tokio runtime")?;
    let dir = plugins.plugins_dir().to_path_buf();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("create plugins directory {}", dir.display()))?;
    // Events name paths under the directory as it was watched; watching its canonical
    // form makes them comparable whatever spelling the configuration used.
    let root = dir
        .canonicalize()
        .with_context(|| format!("resolve plugins directory {}", dir.display()))?;

    let _runtime = runtime.enter();
    let (watcher, rx) = crate::watcher::start(
        "plugins directory",
        Debounce {
            quiet: DEBOUNCE,
            max: MAX_DELAY,
        },
    )
    .context("start the file watcher")?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .with_context(|| format!("watch {}", root.display()))?;

    runtime.spawn(run(plugins, root, rx));
    info!(dir = %dir.display(), debounce_ms = DEBOUNCE.as_millis() as u64, "watching the plugins directory");
    Ok(WatchHandle {
        _watcher: watcher,
        dir,
    })
}

/// What one plugin directory holds, enough to tell whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    /// sha256 of the manifest file's bytes.
    manifest: String,
    /// sha256 of the component the manifest names, when it is there.
    component: Option<String>,
}

/// A plugin directory as found on disk.
enum OnDisk {
    /// No manifest (or no directory): the plugin is uninstalled.
    Gone,
    /// A manifest, parsed if valid.
    Present {
        manifest: Option<Box<Manifest>>,
        fingerprint: Fingerprint,
    },
}

/// Handles changes, a quiet burst at a time, until the watcher is dropped.
async fn run(plugins: Arc<PluginHost>, root: PathBuf, mut batches: mpsc::UnboundedReceiver<Batch>) {
    // Directories whose last load failed (or was refused: disabled), with what they held
    // then: a later event that changes nothing there (say, the removal of the component it
    // replaced) must not retry the same broken plugin and announce the same error again.
    let mut failed: HashMap<PathBuf, Fingerprint> = HashMap::new();
    while let Some(batch) = batches.recv().await {
        let mut names: BTreeSet<String> = batch
            .paths
            .iter()
            .filter_map(|path| plugin_dir_name(&root, path))
            .collect();
        if batch.rescan {
            names.extend(rescan(&plugins, &root));
        }
        for name in names {
            handle(&plugins, &name, &mut failed).await;
        }
    }
    debug!("plugin watcher stopped");
}

/// Every plugin directory there is or was: the subdirectories of `root` and those the
/// live plugins were loaded from.
fn rescan(plugins: &PluginHost, root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.extend(
        plugins
            .list()
            .iter()
            .filter(|live| live.dir.parent() == Some(plugins.plugins_dir()))
            .filter_map(|live| live.dir.file_name())
            .map(|name| name.to_string_lossy().into_owned()),
    );
    names
}

/// The plugin directory (its name under `root`) that a change to `path` concerns; `None`
/// for the root itself, temporary files of a writer (`*.tmp-*`), directories whose name
/// starts with `.` (an uninstall's `.trash-*`), and loose files directly in the root.
fn plugin_dir_name(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let mut components = relative.components();
    let Some(Component::Normal(first)) = components.next() else {
        return None;
    };
    let name = path.file_name()?.to_string_lossy();
    if name.contains(".tmp-") || first.to_string_lossy().starts_with('.') {
        return None;
    }
    if components.next().is_none() && path.is_file() {
        return None;
    }
    Some(first.to_string_lossy().into_owned())
}

/// Brings plugin directory `name` and the live set into agreement.
async fn handle(plugins: &PluginHost, name: &str, failed: &mut HashMap<PathBuf, Fingerprint>) {
    let dir = plugins.plugins_dir().join(name);
    // An install, update or uninstall through the API (on this node, or followed from
    // another) writes this directory and loads it under the plugin's change lock: waiting
    // for it here means its own files are judged once it is done (already served, so
    // not loaded a second time).
    let _change = plugins.lock_changes(name).await;
    let inspected = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || inspect(&dir)).await
    };
    let on_disk = match inspected {
        Ok(on_disk) => on_disk,
        Err(e) => {
            warn!(plugin = %name, cause = %e, "could not inspect the plugin directory");
            return;
        }
    };
    match on_disk {
        OnDisk::Gone => {
            failed.remove(&dir);
            unload_dir(plugins, &dir, name, None);
        }
        OnDisk::Present {
            manifest,
            fingerprint,
        } => {
            if failed.get(&dir) == Some(&fingerprint) {
                debug!(plugin = %name, "unchanged since its failed load; not retried");
                return;
            }
            if let Some(manifest) = &manifest
                && serves(plugins, manifest, &fingerprint)
            {
                failed.remove(&dir);
                debug!(plugin = %manifest.id, version = %manifest.version, "already serving this version");
                return;
            }
            let started = Instant::now();
            let result = plugins.load_dir(&dir).await;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(live) => {
                    failed.remove(&dir);
                    info!(plugin = %live.id(), version = %live.plugin.manifest.version, elapsed_ms, "hot-reloaded from the plugins directory");
                    unload_dir(plugins, &dir, name, Some(live.id()));
                }
                Err(LoadError::Disabled(id)) => {
                    // Turned off through the API; enabling it there loads it again.
                    failed.insert(dir, fingerprint);
                    debug!(plugin = %id, "changed on disk but disabled; not loaded");
                }
                Err(e) => {
                    failed.insert(dir, fingerprint);
                    // `load_dir` has announced the error; the previous version serves on.
                    warn!(plugin = %name, cause = %e, elapsed_ms, "hot reload failed; the previous version (if any) keeps serving");
                }
            }
        }
    }
}

/// Reads what plugin directory `dir` holds (blocking).
fn inspect(dir: &Path) -> OnDisk {
    if !dir.is_dir() {
        return OnDisk::Gone;
    }
    let text = match std::fs::read(dir.join(MANIFEST_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return OnDisk::Gone,
        // Unreadable is not uninstalled: let the load report why.
        Err(e) => {
            return OnDisk::Present {
                manifest: None,
                fingerprint: Fingerprint {
                    manifest: format!("unreadable: {e}"),
                    component: None,
                },
            };
        }
    };
    let manifest = read_manifest(dir).ok().map(Box::new);
    let component = manifest
        .as_ref()
        .and_then(|m| std::fs::read(dir.join(m.component_file())).ok())
        .map(|bytes| hex::encode(Sha256::digest(&bytes)));
    OnDisk::Present {
        manifest,
        fingerprint: Fingerprint {
            manifest: hex::encode(Sha256::digest(&text)),
            component,
        },
    }
}

/// Whether the live set already serves exactly this manifest and component.
fn serves(plugins: &PluginHost, manifest: &Manifest, fingerprint: &Fingerprint) -> bool {
    plugins.get(&manifest.id).is_some_and(|live| {
        live.plugin.manifest == *manifest
            && fingerprint.component.as_deref() == Some(live.plugin.sha256.as_str())
    })
}

/// Unloads the plugins loaded from `dir` (other than `keep`): the directory lost its
/// manifest, or its manifest now names another id.
fn unload_dir(plugins: &PluginHost, dir: &Path, name: &str, keep: Option<&str>) {
    let stale: Vec<String> = plugins
        .list()
        .iter()
        .filter(|live| Some(live.id()) != keep)
        .filter(|live| {
            live.dir == dir
                || (live.id() == name && live.dir.file_name() == Some(std::ffi::OsStr::new(name)))
        })
        .map(|live| live.id().to_string())
        .collect();
    for id in stale {
        if plugins.unload(&id) {
            info!(plugin = %id, dir = %dir.display(), "unloaded: its directory no longer provides it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_inside_a_plugin_directory_names_that_directory() {
        let root = Path::new("/data/plugins");
        assert_eq!(
            plugin_dir_name(root, Path::new("/data/plugins/time/manifest.json")).as_deref(),
            Some("time")
        );
        assert_eq!(
            plugin_dir_name(root, Path::new("/data/plugins/time/time-0123456789ab.wasm"))
                .as_deref(),
            Some("time")
        );
    }

    #[test]
    fn a_plugin_directory_itself_names_itself_even_once_removed() {
        let root = Path::new("/nonexistent/plugins");
        assert_eq!(
            plugin_dir_name(root, Path::new("/nonexistent/plugins/time")).as_deref(),
            Some("time")
        );
    }

    #[test]
    fn temporary_files_the_root_and_foreign_paths_are_ignored() {
        let root = Path::new("/data/plugins");
        for ignored in [
            "/data/plugins/time/manifest.tmp-4242",
            "/data/plugins/time/time-0123456789ab.tmp-4242",
            "/data/plugins/.trash-time-4242/manifest.json",
            "/data/plugins/.trash-time-4242",
            "/data/plugins",
            "/elsewhere/time/manifest.json",
        ] {
            assert_eq!(plugin_dir_name(root, Path::new(ignored)), None, "{ignored}");
        }
    }

    #[test]
    fn a_loose_file_in_the_root_is_not_a_plugin() {
        let root = tempfile::tempdir().expect("tempdir");
        let loose = root.path().join("README.txt");
        std::fs::write(&loose, "hello").expect("write");
        assert_eq!(plugin_dir_name(root.path(), &loose), None);
    }

    #[test]
    fn a_directory_without_a_manifest_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(inspect(dir.path()), OnDisk::Gone));
        assert!(matches!(inspect(&dir.path().join("missing")), OnDisk::Gone));
    }

    #[test]
    fn the_fingerprint_changes_with_the_component_and_the_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = |component: &str| {
            format!(
                r#"{{"schema_version": 1, "id": "demo", "name": "Demo", "kind": "health-probe",
                    "version": "1.0.0", "api": "^0.1", "component": "{component}"}}"#
            )
        };
        let fingerprint = |dir: &Path| match inspect(dir) {
            OnDisk::Present {
                manifest: Some(_),
                fingerprint,
            } => fingerprint,
            _ => panic!("a valid manifest is present"),
        };
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest("a.wasm")).expect("write");
        let no_component = fingerprint(dir.path());
        assert_eq!(no_component.component, None);

        std::fs::write(dir.path().join("a.wasm"), b"one").expect("write");
        let one = fingerprint(dir.path());
        assert!(one.component.is_some());
        assert_eq!(one.manifest, no_component.manifest);

        std::fs::write(dir.path().join("a.wasm"), b"two").expect("write");
        let two = fingerprint(dir.path());
        assert_ne!(one, two);

        std::fs::write(dir.path().join(MANIFEST_FILE), manifest("b.wasm")).expect("write");
        std::fs::write(dir.path().join("b.wasm"), b"two").expect("write");
        let renamed = fingerprint(dir.path());
        assert_eq!(renamed.component, two.component);
        assert_ne!(renamed.manifest, two.manifest);
    }

    #[test]
    fn an_invalid_manifest_is_present_but_unparsed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MANIFEST_FILE), "{ not json").expect("write");
        assert!(matches!(
            inspect(dir.path()),
            OnDisk::Present { manifest: None, .. }
        ));
    }
}
