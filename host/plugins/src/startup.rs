//! The start-up loading of the plugin host: which installed plugins are still loading,
//! whether the start-up is over, and a start that loads in the background so the port
//! answers at once (`/health/ready`, and the wait of requests that need plugins).

use std::sync::{Arc, RwLock};

use tracing::info;

use super::{PluginHost, dir_name, read, write};

/// What the start-up loading has left to do.
pub(super) struct Startup {
    /// Directory names (plugin ids) whose first load has not finished.
    pub(super) loading: RwLock<std::collections::BTreeSet<String>>,
    /// `true` once every installed plugin is loaded or failed (and before any start).
    pub(super) done: tokio::sync::watch::Sender<bool>,
}

impl Default for Startup {
    fn default() -> Startup {
        Startup {
            loading: RwLock::new(Default::default()),
            // Nothing to load until a start begins.
            done: tokio::sync::watch::Sender::new(true),
        }
    }
}

impl PluginHost {
    /// Writes the embedded first-party plugins into the plugins directory where they are
    /// missing or older (or a rebuilt same version), then loads every plugin there.
    pub async fn start(&self) -> anyhow::Result<()> {
        self.recover().await;
        self.seed_bundled().await?;
        self.reconcile_all().await;
        self.mark_loading();
        self.load_all().await;
        self.startup.done.send_replace(true);
        Ok(())
    }

    /// [`PluginHost::start`] that returns once the bundled plugins are written: the
    /// plugins load (compile) in a background task while the server already answers.
    /// [`PluginHost::loading`] names those not loaded yet; [`PluginHost::wait_started`]
    /// waits for the end.
    pub async fn start_in_background(self: &Arc<Self>) -> anyhow::Result<()> {
        self.recover().await;
        self.seed_bundled().await?;
        self.reconcile_all().await;
        self.mark_loading();
        let host = self.clone();
        tokio::spawn(async move {
            host.load_all().await;
            host.startup.done.send_replace(true);
            info!(
                plugins = host.list().len(),
                "every installed plugin is loaded or failed"
            );
        });
        Ok(())
    }

    /// Records every plugin directory as loading and the start-up as under way.
    fn mark_loading(&self) {
        let ids = self
            .plugin_dirs()
            .iter()
            .filter_map(|d| dir_name(d))
            .collect();
        *write(&self.startup.loading) = ids;
        self.startup.done.send_replace(false);
    }

    /// Plugins whose start-up load has not finished yet, by id.
    pub fn loading(&self) -> Vec<String> {
        read(&self.startup.loading).iter().cloned().collect()
    }

    /// Whether the start-up loading is still under way.
    pub fn is_starting(&self) -> bool {
        !*self.startup.done.borrow()
    }

    /// Waits until the start-up loading is over, at most `limit`; whether it is.
    pub async fn wait_started(&self, limit: std::time::Duration) -> bool {
        let mut done = self.startup.done.subscribe();
        tokio::time::timeout(limit, done.wait_for(|done| *done))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}
