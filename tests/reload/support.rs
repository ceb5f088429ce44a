//! Shared set-up for the hot-reload tests: the whole app over a fresh data directory with
//! the plugins-directory watcher running, the fixture components, and waits on the live
//! set's events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sanctuary::manifest::Manifest;
use sanctuary::plugins::{PluginEvent, PluginHost, component_file_name, write_plugin};
use sanctuary::watch::WatchHandle;
use sanctuary::{AppState, Config};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::sync::broadcast;

pub use sanctuary_test_support::fixture;

/// How long a test waits for something that should happen in well under a second. Only
/// a broken host takes this long; a slow machine does not fail the tests.
pub const WAIT: Duration = Duration::from_secs(30);

/// The id both `version-probe` fixtures share.
pub const VERSION_PROBE: &str = "version-probe";

/// The whole app (SQLite in a temporary data directory) with the watcher running.
pub struct Harness {
    /// The app state, as the server has it.
    pub state: AppState,
    _watch: WatchHandle,
    _data: TempDir,
}

impl Harness {
    /// Starts the app and the watcher.
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Starts the app, with `edit` applied to its config, and the watcher.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Harness {
        let data = TempDir::new().expect("tempdir");
        let mut config = Config {
            scout: Config::default().scout,
            ..sanctuary_test_support::inproc::test_config(data.path())
        };
        edit(&mut config);
        let state = AppState::start(config).await.expect("app starts");
        let watch = sanctuary::watch::spawn(state.plugins.clone()).expect("watcher starts");
        Harness {
            state,
            _watch: watch,
            _data: data,
        }
    }

    /// The live set.
    pub fn plugins(&self) -> &Arc<PluginHost> {
        &self.state.plugins
    }

    /// Where plugin `id` is installed.
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.plugins().plugins_dir().join(id)
    }

    /// Writes `manifest` and `component` into plugin `id`'s directory, as an install does.
    pub fn drop_in(&self, id: &str, manifest: &Manifest, component: &[u8]) {
        write_plugin(&self.dir_of(id), manifest, component).expect("write the plugin");
    }

    /// Drops fixture `name` in and waits until it is loaded.
    pub async fn install(&self, name: &str, events: &mut broadcast::Receiver<PluginEvent>) {
        let (manifest, bytes) = installable(name);
        let id = manifest.id.clone();
        let version = manifest.version.to_string();
        self.drop_in(&id, &manifest, &bytes);
        loaded(events, &id, &version).await;
    }

    /// What plugin `id` answers to a probe now (its detail), calling the live version.
    pub async fn probe(&self, id: &str) -> String {
        let live = self
            .plugins()
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not loaded: {:?}", self.plugins().failures()));
        self.plugins()
            .runtime()
            .probe(&live.plugin)
            .await
            .unwrap_or_else(|e| panic!("{id} answers: {e}"))
            .detail
    }
}

/// Fixture `name` as an install writes it: the manifest carries the component's sha256
/// and names it `<id>-<hash>.wasm`.
pub fn installable(name: &str) -> (Manifest, Vec<u8>) {
    let (manifest, bytes) = fixture(name);
    (sealed(manifest, &bytes), bytes)
}

/// `manifest` carrying `component`'s sha256 and file name, so the checksum passes.
pub fn sealed(mut manifest: Manifest, component: &[u8]) -> Manifest {
    let sha256 = hex::encode(Sha256::digest(component));
    manifest.component = Some(component_file_name(&manifest.id, &sha256));
    manifest.sha256 = Some(sha256);
    manifest
}

/// The first event `matches` accepts, skipping others; panics after [`WAIT`].
pub async fn next_event(
    events: &mut broadcast::Receiver<PluginEvent>,
    what: &str,
    matches: impl Fn(&PluginEvent) -> bool,
) -> PluginEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if matches(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => panic!("the plugin host is gone"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// Waits for `id` at `version` to be loaded; returns the version it replaced.
pub async fn loaded(
    events: &mut broadcast::Receiver<PluginEvent>,
    id: &str,
    version: &str,
) -> Option<String> {
    let event = next_event(events, &format!("plugin_loaded for {id} {version}"), |e| {
        matches!(e, PluginEvent::PluginLoaded { id: i, version: v, .. } if i == id && v == version)
            || matches!(e, PluginEvent::PluginError { id: i, .. } if i == id)
    })
    .await;
    match event {
        PluginEvent::PluginLoaded { replaced, .. } => replaced,
        other => panic!("{id} {version} failed to load: {other:?}"),
    }
}

/// Waits for a load of `id` to fail; returns why.
pub async fn load_error(events: &mut broadcast::Receiver<PluginEvent>, id: &str) -> String {
    let event = next_event(events, &format!("plugin_error for {id}"), |e| {
        matches!(e, PluginEvent::PluginError { id: i, .. } | PluginEvent::PluginLoaded { id: i, .. } if i == id)
    })
    .await;
    match event {
        PluginEvent::PluginError { error, .. } => error,
        other => panic!("{id} was expected to fail, but: {other:?}"),
    }
}
