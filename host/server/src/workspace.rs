//! Workspace subscriptions for Socket.IO (`workspace_subscribe` / `workspace_unsubscribe`):
//! who listens to which workspace, and a file watcher on the directory of every workspace
//! that names a scout project, alive while it has subscribers.
//!
//! The watcher (the host's one file watcher, [`crate::watcher`]: changes only, debounced)
//! covers the project directory except `target/`,
//! `node_modules/` and `.git/` (build output and repository internals would flood the
//! clients); a directory created at the top level later is not watched. Changes are handed
//! to a callback as paths relative to the project, so this module knows nothing of
//! Socket.IO.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use notify::RecursiveMode;

use crate::watcher::{Debounce, FileWatcher};

/// How long files must be quiet before a change is reported.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Directory names never watched.
pub const IGNORED: [&str; 3] = ["target", "node_modules", ".git"];

/// Told the workspace id and the changed paths (relative, `/`-separated, sorted).
pub type OnChange = Arc<dyn Fn(&str, Vec<String>) + Send + Sync>;

/// Why a directory could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The directory is unreadable or missing.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file watcher refused.
    #[error("cannot watch {}: {source}", path.display())]
    Notify {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

/// Every workspace with subscribers (cheap to share).
#[derive(Default)]
pub struct Workspaces {
    entries: Mutex<BTreeMap<String, Entry>>,
}

#[derive(Default)]
struct Entry {
    subscribers: BTreeSet<String>,
    watcher: Option<FileWatcher>,
}

impl Workspaces {
    /// An empty registry.
    pub fn new() -> Workspaces {
        Workspaces::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `subscriber` to workspace `id`. When the workspace has a directory (`dir`) and
    /// is not watched yet, starts watching it, reporting changes to `on_change`. Returns
    /// whether the directory is watched.
    pub fn subscribe(
        &self,
        id: &str,
        subscriber: &str,
        dir: Option<&Path>,
        on_change: OnChange,
    ) -> Result<bool, WatchError> {
        let mut entries = self.lock();
        let entry = entries.entry(id.to_string()).or_default();
        entry.subscribers.insert(subscriber.to_string());
        if entry.watcher.is_none()
            && let Some(dir) = dir
        {
            entry.watcher = Some(watch(id, dir, on_change)?);
        }
        Ok(entry.watcher.is_some())
    }

    /// Removes `subscriber` from workspace `id`; the last one out stops its watcher.
    /// Returns whether it was subscribed.
    pub fn unsubscribe(&self, id: &str, subscriber: &str) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(id) else {
            return false;
        };
        let was = entry.subscribers.remove(subscriber);
        if entry.subscribers.is_empty() {
            entries.remove(id);
        }
        was
    }

    /// Removes `subscriber` from every workspace (it disconnected).
    pub fn forget(&self, subscriber: &str) {
        let mut entries = self.lock();
        entries.retain(|_, entry| {
            entry.subscribers.remove(subscriber);
            !entry.subscribers.is_empty()
        });
    }

    /// The workspaces that have subscribers.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Whether workspace `id`'s directory is being watched.
    pub fn is_watched(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|e| e.watcher.is_some())
    }
}

/// Watches `dir` (minus [`IGNORED`] directories) for workspace `id`.
fn watch(id: &str, dir: &Path, on_change: OnChange) -> Result<FileWatcher, WatchError> {
    let io = |source| WatchError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let root = dir.canonicalize().map_err(io)?;
    let children: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !IGNORED.contains(&e.file_name().to_string_lossy().as_ref()))
        .map(|e| e.path())
        .collect();

    let workspace = id.to_string();
    let base = root.clone();
    // Only changes count (the scout checks read the project, which must not look like an
    // edit); a burst is reported as one update, by a task that ends when the watcher is
    // dropped.
    let (watcher, mut batches) = crate::watcher::start(
        "workspace",
        Debounce {
            quiet: DEBOUNCE,
            max: DEBOUNCE * 5,
        },
    )
    .map_err(|source| WatchError::Notify {
        path: root.clone(),
        source,
    })?;
    tokio::spawn(async move {
        while let Some(batch) = batches.recv().await {
            let paths = relevant(&base, batch.paths.iter().map(PathBuf::as_path));
            if !paths.is_empty() {
                on_change(&workspace, paths);
            }
        }
    });
    let notify = |path: &Path, source| WatchError::Notify {
        path: path.to_path_buf(),
        source,
    };
    watcher
        .watch(&root, RecursiveMode::NonRecursive)
        .map_err(|e| notify(&root, e))?;
    for child in &children {
        // A directory removed since it was listed is no reason to give up.
        if let Err(e) = watcher.watch(child, RecursiveMode::Recursive) {
            tracing::debug!(dir = %child.display(), cause = %e, "not watching a workspace directory");
        }
    }
    tracing::debug!(workspace = id, dir = %root.display(), "watching a workspace");
    Ok(watcher)
}

/// The changed paths under `root` worth reporting: relative, `/`-separated, sorted, none
/// inside an [`IGNORED`] directory.
fn relevant<'a>(root: &Path, paths: impl Iterator<Item = &'a Path>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for path in paths {
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let parts: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if parts.is_empty() || parts.iter().any(|p| IGNORED.contains(&p.as_str())) {
            continue;
        }
        out.insert(parts.join("/"));
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn recorder() -> (OnChange, mpsc::Receiver<(String, Vec<String>)>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let on_change: OnChange = Arc::new(move |id: &str, paths| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send((id.to_string(), paths));
            }
        });
        (on_change, rx)
    }

    #[test]
    fn only_paths_outside_ignored_directories_are_reported() {
        let root = Path::new("/p");
        let paths = [
            "/p/src/main.rs",
            "/p/target/debug/x",
            "/p/.git/index",
            "/p/a/node_modules/b",
            "/p/README.md",
            "/p/src/main.rs",
            "/elsewhere/x",
            "/p",
        ]
        .map(Path::new);
        assert_eq!(
            relevant(root, paths.into_iter()),
            ["README.md", "src/main.rs"]
        );
    }

    #[tokio::test]
    async fn subscribers_are_counted_and_the_last_one_out_stops_the_watcher() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (on_change, _rx) = recorder();
        let workspaces = Workspaces::new();
        assert!(
            workspaces
                .subscribe("web", "a", Some(dir.path()), on_change.clone())
                .expect("watch")
        );
        assert!(
            workspaces
                .subscribe("web", "b", Some(dir.path()), on_change.clone())
                .expect("watch")
        );
        assert!(
            !workspaces
                .subscribe("plain", "a", None, on_change)
                .expect("no dir")
        );
        assert_eq!(workspaces.ids(), ["plain", "web"]);
        assert!(workspaces.unsubscribe("web", "a"));
        assert!(!workspaces.unsubscribe("web", "a"), "already gone");
        assert!(workspaces.is_watched("web"));
        workspaces.forget("b");
        assert!(!workspaces.is_watched("web"));
        assert_eq!(workspaces.ids(), ["plain"]);
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_error() {
        let (on_change, _rx) = recorder();
        let err = Workspaces::new()
            .subscribe("x", "a", Some(Path::new("/definitely/not/here")), on_change)
            .expect_err("refused");
        assert!(matches!(err, WatchError::Io { .. }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_written_in_a_watched_directory_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).expect("mkdir");
        std::fs::create_dir(dir.path().join("target")).expect("mkdir");
        let (on_change, rx) = recorder();
        let workspaces = Workspaces::new();
        workspaces
            .subscribe("web", "a", Some(dir.path()), on_change)
            .expect("watch");
        std::fs::write(dir.path().join("target/ignored"), "x").expect("write");
        std::fs::write(dir.path().join("src/lib.rs"), "x").expect("write");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let (id, paths) = rx.recv_timeout(left).expect("a change within 20 s");
            assert_eq!(id, "web");
            assert!(!paths.iter().any(|p| p.starts_with("target")), "{paths:?}");
            if paths.iter().any(|p| p == "src/lib.rs") {
                break;
            }
        }
    }
}
