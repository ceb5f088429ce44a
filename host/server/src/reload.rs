//! Config changes without a restart: watches the config file (and the secrets file) and
//! applies what is safe to change while serving: `[routes]` and `[breaker]` (swapped in
//! whole; calls in flight keep the table they started with), `[plugins.<id>]` (each
//! changed plugin is reloaded, atomically) and the secrets. Each change is logged; a file
//! that does not parse or validate is logged and ignored, and everything stays as it was.
//! Keys that need a restart (`host`, `port`, ...) are named in a warning.
//!
//! The directories are watched rather than the files, because editors and deploy tools
//! replace a file by renaming a new one over it. A server started without a config file
//! watches for the default one (`sanctuary.toml` in its working directory) to appear, and
//! applies it when it does.
//!
//! Routes that change are checked like API bindings: a provider of the chain that is not
//! loaded, or has no API key or endpoint, is warned about.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify::RecursiveMode;
use tokio::sync::{Mutex, mpsc};
use tracing::{error, info, warn};

use crate::config::Reloadable;
use crate::state::AppState;
use crate::watcher::{Batch, Debounce, FileWatcher};

/// How long the files must be quiet before a change is applied.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Keeps the config watched; dropping it stops watching.
#[must_use = "dropping the handle stops watching"]
pub struct ConfigWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one reload did, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReloadReport {
    /// One line per route added, changed or removed.
    pub routes: Vec<String>,
    /// The new breaker settings, when they changed.
    pub breaker: Option<crate::config::BreakerConfig>,
    /// Plugins whose configuration changed, with their reload's outcome.
    pub plugins: Vec<(String, Option<Result<(), String>>)>,
    /// How many secrets are set from the file, when it was (re)read.
    pub secrets: Option<usize>,
    /// Keys that changed but need a restart.
    pub restart_needed: Vec<String>,
}

/// The reloader: the last state applied, so each reload only acts on what changed.
pub struct Reloader {
    state: AppState,
    /// The config file: the one loaded at start, else the default that may appear.
    path: PathBuf,
    last: Mutex<Option<Reloadable>>,
}

impl Reloader {
    /// A reloader for `state`, taking its configuration as what is applied now.
    pub fn new(state: AppState) -> Reloader {
        let config = &state.config;
        let last = Reloadable {
            routes: config.routes.clone(),
            breaker: config.breaker,
            plugins: config.plugins.clone(),
            secrets_file: config.secrets_file.clone(),
            restart_needed: Vec::new(),
        };
        let path = config
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_CONFIG_FILE));
        Reloader {
            state,
            path,
            last: Mutex::new(Some(last)),
        }
    }

    /// Re-reads the config file and the secrets file and applies what changed. On an
    /// invalid file nothing changes and the error is returned (and logged).
    pub async fn reload(&self) -> anyhow::Result<ReloadReport> {
        let mut last = self.last.lock().await;
        if self.state.config.source.is_none() && self.path.is_file() {
            info!(file = %self.path.display(), "a config file appeared; applying what can change while serving");
        }
        let next = match self.state.config.reread_from(&self.path) {
            Ok(next) => next,
            Err(e) => {
                error!(cause = %format!("{e:#}"), "config file rejected; keeping the routes, breaker and plugin settings in force");
                return Err(e);
            }
        };
        let mut report = ReloadReport::default();
        let providers = &self.state.chat.providers;
        let previous = last.take();
        let unchanged = |f: &dyn Fn(&Reloadable) -> bool| previous.as_ref().is_some_and(f);

        if !unchanged(&|p| p.routes == next.routes) {
            report.routes = providers.set_file_routes(next.routes.clone());
            for change in &report.routes {
                info!(change = %change, "chat route updated from the config file");
            }
            for (name, route) in &next.routes {
                let same = previous.as_ref().and_then(|p| p.routes.get(name)) == Some(route);
                if !same && !providers.has_api_route(name) {
                    crate::providers::configured::binding_warnings(&self.state, name, route);
                }
            }
            for name in next.routes.keys() {
                if providers.has_api_route(name) {
                    warn!(route = %name, "the config file sets this route, but a binding made through the API overrides it");
                }
            }
        }
        if !unchanged(&|p| p.breaker == next.breaker) {
            providers.breakers().set_settings(next.breaker);
            info!(
                failures = next.breaker.failures,
                open_ms = next.breaker.open_ms,
                "circuit breaker settings updated from the config file"
            );
            report.breaker = Some(next.breaker);
        }
        if !unchanged(&|p| p.plugins == next.plugins) {
            report.plugins = self
                .state
                .plugins
                .set_plugin_configs(next.plugins.clone())
                .await;
            for (id, outcome) in &report.plugins {
                match outcome {
                    Some(Ok(())) => {
                        info!(plugin = %id, "plugin reloaded with its new configuration")
                    }
                    Some(Err(e)) => {
                        warn!(plugin = %id, cause = %e, "plugin configuration changed but the reload failed; the previous version keeps serving")
                    }
                    None => {
                        info!(plugin = %id, "configuration of a plugin that is not loaded changed; it applies when it loads")
                    }
                }
            }
        }
        // The secrets file may have changed on its own, so it is always re-read.
        match load_secrets(&self.state, next.secrets_file.as_deref()) {
            Ok(count) => report.secrets = count,
            Err(e) => {
                error!(cause = %format!("{e:#}"), "secrets file rejected; keeping the secrets in force");
            }
        }
        let new_restart: Vec<&str> = next
            .restart_needed
            .iter()
            .filter(|key| {
                previous
                    .as_ref()
                    .is_none_or(|p| !p.restart_needed.contains(key))
            })
            .map(String::as_str)
            .collect();
        if !new_restart.is_empty() {
            warn!(keys = ?new_restart, "config keys changed that take effect at the next start");
        }
        report.restart_needed = next.restart_needed.clone();
        *last = Some(next);
        Ok(report)
    }

    /// The files to watch: the config file (or the default one, which may appear) and the
    /// secrets file in force.
    async fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = vec![self.path.clone()];
        if let Some(secrets) = self
            .last
            .lock()
            .await
            .as_ref()
            .and_then(|l| l.secrets_file.clone())
        {
            files.push(secrets);
        }
        files
    }
}

/// Sets the secrets from `file` (none: clears them, leaving the environment). Returns how
/// many the file holds. Never logs a value.
pub fn load_secrets(state: &AppState, file: Option<&Path>) -> anyhow::Result<Option<usize>> {
    let secrets = match file {
        Some(path) => crate::config::secrets::read(path)?,
        None => Default::default(),
    };
    let count = file.map(|_| secrets.len());
    let mut names: Vec<&String> = secrets.keys().collect();
    names.sort();
    tracing::debug!(?names, "secrets set from the secrets file");
    state
        .plugins
        .runtime()
        .services()
        .set_secrets(secrets.clone());
    Ok(count)
}

/// Starts watching the config file and secrets file of `state` and applying their
/// changes; without a config file, watching for the default one to appear.
pub async fn spawn(state: AppState) -> anyhow::Result<Option<ConfigWatch>> {
    let reloader = Reloader::new(state);
    let files = reloader.files().await;
    if files.is_empty() {
        return Ok(None);
    }
    // Changes only (the reload reads the very files it watches), gathered by the host's
    // one watcher.
    let (debouncer, rx) = crate::watcher::start(
        "config file",
        Debounce {
            quiet: DEBOUNCE,
            max: DEBOUNCE * 10,
        },
    )
    .context("start the config file watcher")?;
    let mut watched = BTreeSet::new();
    for file in &files {
        watch_parent(&debouncer, &mut watched, file)?;
    }
    let data_dir = {
        let dir = &reloader.state.config.data_dir;
        dir.canonicalize().unwrap_or_else(|_| dir.clone())
    };
    if watched.contains(&data_dir) {
        // The directory is watched for the config or secrets file, and the database (and
        // its write-ahead log) is written there: every write would wake the watcher.
        warn!(
            dir = %data_dir.display(),
            "the config or secrets file is in the data directory: every database write \
             wakes the config watcher; keep them in separate directories (the default \
             layout keeps the data in ./data)"
        );
    }
    info!(files = ?files, "watching the config for changes");
    let task = tokio::spawn(run(reloader, debouncer, watched, rx));
    Ok(Some(ConfigWatch { task }))
}

fn watch_parent(
    debouncer: &FileWatcher,
    watched: &mut BTreeSet<PathBuf>,
    file: &Path,
) -> anyhow::Result<()> {
    let dir = parent_dir(file);
    if watched.insert(dir.clone()) {
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watch {}", dir.display()))?;
    }
    Ok(())
}

/// The canonical directory holding `file`.
fn parent_dir(file: &Path) -> PathBuf {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.canonicalize().unwrap_or(parent)
}

/// Whether an event path is one of `files` (compared by canonical directory and name), or
/// the `..data` link beside one: Kubernetes updates a mounted ConfigMap or Secret by
/// swapping that link, and the file's own name sees no event.
fn concerns(path: &Path, files: &[PathBuf]) -> bool {
    let swapped = path.file_name() == Some(std::ffi::OsStr::new(KUBERNETES_DATA_LINK));
    files.iter().any(|f| {
        (swapped || f.file_name() == path.file_name()) && parent_dir(f) == parent_dir(path)
    })
}

/// The link Kubernetes swaps to update a mounted volume's files at once.
const KUBERNETES_DATA_LINK: &str = "..data";

async fn run(
    reloader: Reloader,
    debouncer: FileWatcher,
    mut watched: BTreeSet<PathBuf>,
    mut rx: mpsc::UnboundedReceiver<Batch>,
) {
    // One burst (an editor's write, a rename into place) is one reload.
    while let Some(batch) = rx.recv().await {
        let paths = batch.paths;
        let files = reloader.files().await;
        if !batch.rescan && !paths.iter().any(|p| concerns(p, &files)) {
            continue;
        }
        if reloader.reload().await.is_ok() {
            // The secrets file may have moved to another directory.
            for file in reloader.files().await {
                if let Err(e) = watch_parent(&debouncer, &mut watched, &file) {
                    warn!(cause = %format!("{e:#}"), "cannot watch the new secrets file");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_concerns_a_file_by_directory_and_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("sanctuary.toml");
        std::fs::write(&config, "").expect("write");
        let files = vec![config.clone()];
        assert!(concerns(&config, &files));
        assert!(concerns(&dir.path().join("./sanctuary.toml"), &files));
        assert!(!concerns(&dir.path().join("other.toml"), &files));
        assert!(!concerns(&dir.path().join("sanctuary.toml.swp"), &files));
    }

    #[test]
    fn a_kubernetes_volume_update_concerns_the_files_beside_its_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("sanctuary.toml");
        std::fs::write(&config, "").expect("write");
        let files = vec![config];
        assert!(concerns(&dir.path().join("..data"), &files));
        let elsewhere = tempfile::tempdir().expect("tempdir");
        assert!(!concerns(&elsewhere.path().join("..data"), &files));
    }
}
