//! Plugins reconciled from the installation's records, so that every node sharing one
//! database serves the same set: what the records hold as installed (version, enabled,
//! grant) or removed wins over what one node's plugins directory holds.
//!
//! Installs and uploads store their component with the records, by sha256
//! ([`crate::store::Installs::store_component`]); a node that lacks it writes it from
//! there. Each node reconciles at start, before it loads ([`PluginHost::reconcile_all`]),
//! and whenever another node says a plugin changed ([`PluginHost::follow`], through the
//! server's cluster events). Bundled plugins come with every binary and are not stored. A
//! plugin dropped by hand into one node's plugins directory stays that node's alone, even
//! under the id of a plugin removed earlier (the removal records which component it
//! removed).

use tracing::{info, warn};

use super::{MANIFEST_FILE, PluginHost, read_manifest, write_plugin};
use crate::runtime::logsafe::Safe;
use crate::store::Installs;

impl PluginHost {
    /// Follows a change another node made to plugin `id`: brings this node's files and
    /// live set in line with the installation's records. Failures are logged; the node
    /// keeps serving.
    pub async fn follow(&self, id: &str) {
        if crate::manifest::validate_id(id).is_err() {
            warn!(plugin = %Safe(id), "ignoring a plugin change event with an invalid id");
            return;
        }
        let Some(installs) = self.installs() else {
            return;
        };
        let _change = self.lock_changes(id).await;
        match self.reconcile_one(installs, id, true).await {
            Ok(Some(done)) => {
                info!(plugin = %id, done, "followed a plugin change made on another node")
            }
            Ok(None) => {}
            Err(err) => {
                warn!(plugin = %id, cause = %format!("{err:#}"), "could not follow a plugin change made on another node");
            }
        }
    }

    /// Brings every plugin directory in line with the database before the start-up load:
    /// installed plugins whose files here are missing or another version are written from
    /// the stored components; directories of plugins removed through the API (on any
    /// node) are deleted.
    pub(super) async fn reconcile_all(&self) {
        let Some(installs) = self.installs() else {
            return;
        };
        let ids = match installs.installed_and_removed().await {
            Ok(ids) => ids,
            Err(err) => {
                warn!(cause = %format!("{err:#}"), "could not read the installed plugins to reconcile with");
                return;
            }
        };
        for id in ids {
            match self.reconcile_one(installs, &id, false).await {
                Ok(Some(done)) => info!(plugin = %id, done, "plugin reconciled with the database"),
                Ok(None) => {}
                Err(err) => {
                    warn!(plugin = %id, cause = %format!("{err:#}"), "could not reconcile a plugin with the database")
                }
            }
        }
    }

    /// Brings plugin `id` in line with the database; with `load`, also the live set.
    /// Returns what was done, if anything.
    async fn reconcile_one(
        &self,
        installs: &dyn Installs,
        id: &str,
        load: bool,
    ) -> anyhow::Result<Option<&'static str>> {
        let dir = self.plugins_dir().join(id);
        let Some(record) = installs.install_record(id).await? else {
            let Some(removed) = installs.removal(id).await? else {
                return Ok(None);
            };
            // A directory holding another component than the one removed is not a stale
            // copy: an operator dropped a new plugin in under the freed id. It stays, and
            // loading it installs it.
            if !removed.is_empty()
                && dir.exists()
                && super::component_digest(&dir).is_some_and(|here| here != removed)
            {
                return Ok(None);
            }
            let unloaded = self.unload(id);
            let had_files = dir.exists();
            if had_files {
                std::fs::remove_dir_all(&dir)?;
                super::sync_dir(self.plugins_dir())?;
            }
            return Ok((unloaded || had_files).then_some("uninstalled"));
        };
        if record.source == super::BUNDLED_SOURCE || record.source == super::DISK_SOURCE {
            // Every binary carries the bundled plugins; hand-dropped ones are one node's.
            if load && !record.enabled {
                return Ok(self.unload(id).then_some("disabled"));
            }
            if load && record.enabled && dir.join(MANIFEST_FILE).is_file() {
                self.load_dir(&dir).await?;
                return Ok(Some("reloaded"));
            }
            return Ok(None);
        }
        // The files here are current when they hold the installed component with the
        // manifest it was installed with (an update may change the manifest alone).
        let current = match read_manifest(&dir).ok() {
            Some(here) if here.sha256.as_deref() == Some(record.sha256.as_str()) => installs
                .stored_manifest(&record.sha256)
                .await?
                .is_none_or(|stored| stored == here),
            _ => false,
        };
        let mut done = None;
        if !current {
            let Some((manifest, bytes)) = installs.stored_component(&record.sha256).await? else {
                anyhow::bail!(
                    "version {} (sha256 {}) is installed but its component is not stored in the \
                     database; install it again through the API of any node",
                    record.version,
                    record.sha256
                );
            };
            if manifest.id != id || manifest.version.to_string() != record.version {
                anyhow::bail!(
                    "version {} (sha256 {}) is installed but the component stored with that \
                     sha256 was last installed as {} {}; install it again through the API of any node",
                    record.version,
                    record.sha256,
                    manifest.id,
                    manifest.version
                );
            }
            write_plugin(&dir, &manifest, &bytes)?;
            done = Some("written from the database");
        }
        if !load {
            return Ok(done);
        }
        if !record.enabled {
            return Ok(self.unload(id).then_some("disabled").or(done));
        }
        self.load_dir(&dir).await?;
        Ok(Some(done.unwrap_or("reloaded")))
    }
}
