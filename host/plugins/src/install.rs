//! Installing, updating, removing, enabling and granting plugins: the operations behind
//! the marketplace API. An install verifies the component's sha256 and the plugin's API
//! requirement before anything is written, records the granted permissions in the
//! installation's records ([`Installs`]), and writes the plugin into the plugins directory through temporary files
//! renamed into place. An update that asks for more permissions than were granted is
//! staged under `<data-dir>/pending/` and applied only once they are granted.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::manifest::{self, Manifest, Permissions};
use crate::registry::Registry;
use crate::runtime::LoadError;
use crate::store::{Announce, Installs};
use crate::{self as plugins, PluginHost};

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such plugin in the registry or installation.
    #[error("plugin `{0}` not found")]
    NotFound(String),
    /// The id is not a valid plugin id (e.g. `../x`).
    #[error(transparent)]
    BadId(manifest::Error),
    /// The plugin needs an API version the host lacks.
    #[error(transparent)]
    Incompatible(manifest::Error),
    /// The component does not match its sha256.
    #[error(
        "plugin `{id}`: sha256 mismatch (registry says {expected}, component is {actual}); nothing was installed"
    )]
    Checksum {
        /// Plugin id.
        id: String,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
    /// The component could not be read.
    #[error("plugin `{id}`: component unavailable: {reason}")]
    Unavailable {
        /// Plugin id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The plugin did not load (bad component, wrong world, ...).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The signature policy refuses it (unsigned when required, unknown key, bad
    /// signature).
    #[error(transparent)]
    Signature(#[from] crate::signing::Error),
    /// An uploaded manifest that does not validate.
    #[error(transparent)]
    Manifest(manifest::Error),
    /// An update needs permissions that were not granted; it is staged until they are.
    #[error("plugin `{id}` {version} needs permissions that were not granted: {}; grant them with POST /api/plugins/{id}/permissions", needs.join(", "))]
    NeedsGrant {
        /// Plugin id.
        id: String,
        /// The staged version.
        version: String,
        /// What it asks for beyond the grant.
        needs: Vec<String>,
    },
    /// The manifest asks for a permission no plugin may have (a reserved env var or
    /// secret, a file grant reaching the host's own files).
    #[error(transparent)]
    Permission(LoadError),
    /// The installation's records failed (a database failure).
    #[error(transparent)]
    Store(#[from] anyhow::Error),
    /// Filesystem failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The marketplace operations over one installation.
pub struct Installer<'a> {
    /// The installation's records.
    pub installs: &'a dyn Installs,
    /// The live set.
    pub plugins: &'a PluginHost,
    /// The registry to install from.
    pub registry: &'a Registry,
    /// `<data-dir>/pending`, where updates wait for a grant.
    pub pending_dir: PathBuf,
    /// Which signatures installs and uploads must carry.
    pub signatures: &'a crate::signing::SignaturesConfig,
    /// The other nodes, told of every change (each follows it with
    /// [`PluginHost::follow`]).
    pub announce: &'a dyn Announce,
}

/// What an install did.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// Plugin id.
    pub id: String,
    /// Version now serving.
    pub version: String,
    /// The version it replaced.
    pub replaced: Option<String>,
}

impl Installer<'_> {
    /// Installs (or updates to) the registry's version of `id`.
    pub async fn install(&self, id: &str) -> Result<Installed> {
        manifest::validate_id(id).map_err(Error::BadId)?;
        let _change = self.plugins.lock_changes(id).await;
        let entry = self
            .registry
            .get(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let manifest = entry.manifest.clone();
        manifest.check_api().map_err(Error::Incompatible)?;
        let bytes = entry.component().map_err(|e| Error::Unavailable {
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        verify_sha256(&manifest, &bytes)?;
        self.check_signature(&manifest, &bytes, entry.origin() == "bundled")?;
        let installed = self
            .stage_or_apply(manifest, &bytes, entry.origin())
            .await?;
        self.announce(id);
        Ok(installed)
    }

    /// Tells the other nodes that `id` changed.
    fn announce(&self, id: &str) {
        self.announce.plugin_changed(id);
    }

    /// Installs (or updates to) an uploaded plugin: `manifest` and its component `bytes`,
    /// through the same checks as a registry install (manifest rules, API requirement,
    /// sha256, signature policy, permissions already granted). A manifest without a
    /// `sha256` gets the component's.
    pub async fn install_upload(&self, mut manifest: Manifest, bytes: &[u8]) -> Result<Installed> {
        manifest::validate_id(&manifest.id).map_err(Error::Manifest)?;
        // Before the other manifest rules, so what no plugin may have is refused (and
        // audited) as such.
        self.plugins
            .check_permissions(&manifest.id, &manifest.permissions)
            .map_err(Error::Permission)?;
        manifest.validate().map_err(Error::Manifest)?;
        manifest.check_api().map_err(Error::Incompatible)?;
        let _change = self.plugins.lock_changes(&manifest.id).await;
        if manifest.sha256.is_none() {
            manifest.sha256 = Some(hex::encode(Sha256::digest(bytes)));
        }
        verify_sha256(&manifest, bytes)?;
        self.check_signature(&manifest, bytes, false)?;
        let id = manifest.id.clone();
        let installed = self.stage_or_apply(manifest, bytes, "upload").await?;
        self.announce(&id);
        Ok(installed)
    }

    /// Refuses what the signature policy refuses. The component is verified here, once:
    /// the load that follows goes through [`PluginHost::load_bytes`], and the watcher does
    /// not reload files the live set already serves; loads from disk otherwise (start,
    /// watcher, enable) are checked by the plugin host with the same policy.
    fn check_signature(&self, manifest: &Manifest, bytes: &[u8], bundled: bool) -> Result<()> {
        let policy = crate::signing::Policy::from_config(self.signatures)?;
        let verdict = policy.check(manifest, &crate::signing::digest(bytes), bundled)?;
        if let crate::signing::Verdict::Trusted(key) = verdict {
            info!(plugin = %manifest.id, key = %key, "signature verified");
        }
        Ok(())
    }

    /// Applies `manifest` + `bytes`, or stages them when they ask for more permissions
    /// than were granted to the installed version.
    async fn stage_or_apply(
        &self,
        manifest: Manifest,
        bytes: &[u8],
        source: &str,
    ) -> Result<Installed> {
        let id = manifest.id.as_str();
        self.plugins
            .check_permissions(id, &manifest.permissions)
            .map_err(Error::Permission)?;
        let record = self.installs.install_record(id).await?;
        if let Some(record) = &record {
            let needs = manifest.permissions.exceeds(&record.granted);
            if !needs.is_empty() {
                let dir = self.pending_dir.join(id);
                plugins::write_plugin(&dir, &manifest, bytes)?;
                return Err(Error::NeedsGrant {
                    id: id.to_string(),
                    version: manifest.version.to_string(),
                    needs,
                });
            }
        }
        self.apply(manifest, bytes, source, record.map(|r| r.granted))
            .await
    }

    /// Loads, writes and records `manifest` + `bytes`; the grant stays as it was, or is
    /// what the manifest asks for on a first install. Crash-safe: the component and the
    /// manifest are staged (fsynced) before the database commit, and the manifest is
    /// renamed into place after it; start-up finishes or undoes a step a crash cut short
    /// ([`PluginHost::recover`]).
    async fn apply(
        &self,
        manifest: Manifest,
        bytes: &[u8],
        source: &str,
        granted: Option<Permissions>,
    ) -> Result<Installed> {
        let dir = self.plugins.plugins_dir().join(&manifest.id);
        let _serial = self.plugins.lock_plugin(&manifest.id).await;
        let granted = granted.unwrap_or_else(|| manifest.permissions.clone());
        // Load before writing: a component that does not load never replaces a working one.
        let live = self
            .plugins
            .load_granted(
                manifest.clone(),
                bytes.to_vec(),
                &dir,
                Some(granted.clone()),
            )
            .await?;
        let staged = plugins::stage_plugin(&dir, &manifest, bytes);
        let recorded = match staged {
            Ok(()) => {
                plugins::pause_at("staged");
                self.installs
                    .record_install(&manifest, &granted, source)
                    .await
                    .map_err(Error::from)
            }
            Err(e) => Err(Error::from(e)),
        };
        let stored = match (recorded, source) {
            (Ok(()), plugins::BUNDLED_SOURCE) => Ok(()),
            // Where the other nodes of this database find it.
            (Ok(()), _) => self
                .installs
                .store_component(&manifest, bytes)
                .await
                .map_err(Error::Store),
            (Err(e), _) => Err(e),
        };
        if let Err(e) = stored {
            plugins::unstage_plugin(&dir);
            return Err(e);
        }
        plugins::commit_plugin(&dir)?;
        let replaced = self.plugins.insert(live);
        let _ = std::fs::remove_dir_all(self.pending_dir.join(&manifest.id));
        info!(plugin = %manifest.id, version = %manifest.version, "plugin installed");
        Ok(Installed {
            id: manifest.id.clone(),
            version: manifest.version.to_string(),
            replaced,
        })
    }

    /// Removes `id`: its files, its database row (and, unless `keep_data`, its key-value
    /// data), and its place in the live set. Crash-safe: the directory is renamed out of
    /// the way before the database forgets the plugin, and deleted after.
    pub async fn uninstall(&self, id: &str, keep_data: bool) -> Result<()> {
        manifest::validate_id(id).map_err(Error::BadId)?;
        let _change = self.plugins.lock_changes(id).await;
        let _serial = self.plugins.lock_plugin(id).await;
        let dir = self.plugins.plugins_dir().join(id);
        let record = self.installs.install_record(id).await?;
        if record.is_none() && !dir.exists() && self.plugins.get(id).is_none() {
            return Err(Error::NotFound(id.to_string()));
        }
        self.plugins.unload(id);
        // What is removed: the recorded component, else the one in the directory.
        let removed_sha256 = record
            .as_ref()
            .map(|r| r.sha256.clone())
            .filter(|s| !s.is_empty())
            .or_else(|| plugins::component_digest(&dir));
        let trash = self.plugins.plugins_dir().join(format!(
            "{}{id}-{}",
            plugins::TRASH_PREFIX,
            std::process::id()
        ));
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&trash);
            std::fs::rename(&dir, &trash)?;
            plugins::sync_dir(self.plugins.plugins_dir())?;
        }
        plugins::pause_at("trashed");
        let _ = std::fs::remove_dir_all(self.pending_dir.join(id));
        self.installs
            .record_removal(id, removed_sha256.as_deref(), keep_data)
            .await?;
        plugins::pause_at("forgotten");
        if trash.exists() {
            std::fs::remove_dir_all(&trash)?;
        }
        info!(plugin = %id, keep_data, "plugin uninstalled");
        self.announce(id);
        Ok(())
    }

    /// Enables or disables `id`. A disabled plugin stays installed but is not loaded.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<()> {
        manifest::validate_id(id).map_err(Error::BadId)?;
        let _change = self.plugins.lock_changes(id).await;
        if !self.installs.set_enabled(id, enabled).await? {
            return Err(Error::NotFound(id.to_string()));
        }
        if enabled {
            self.plugins
                .load_dir(&self.plugins.plugins_dir().join(id))
                .await?;
        } else {
            self.plugins.unload(id);
        }
        self.announce(id);
        Ok(())
    }

    /// Grants `granted` to `id`; a staged update that the grant now covers is applied,
    /// and otherwise the installed version is reloaded to run with the new grant. A grant
    /// of something no plugin may have (a reserved name, a file grant reaching the host's
    /// files) is refused.
    pub async fn grant(&self, id: &str, granted: Permissions) -> Result<Option<Installed>> {
        manifest::validate_id(id).map_err(Error::BadId)?;
        let _change = self.plugins.lock_changes(id).await;
        let Some(record) = self.installs.install_record(id).await? else {
            return Err(Error::NotFound(id.to_string()));
        };
        self.plugins
            .check_permissions(id, &granted)
            .map_err(Error::Permission)?;
        self.installs.record_grant(id, &granted).await?;
        let pending = self.pending_dir.join(id);
        let Ok(staged) = plugins::read_manifest(&pending) else {
            let dir = self.plugins.plugins_dir().join(id);
            if record.enabled && dir.join(plugins::MANIFEST_FILE).is_file() {
                self.plugins.load_dir(&dir).await?;
            }
            self.announce(id);
            return Ok(None);
        };
        let needs = staged.permissions.exceeds(&granted);
        if !needs.is_empty() {
            return Err(Error::NeedsGrant {
                id: id.to_string(),
                version: staged.version.to_string(),
                needs,
            });
        }
        let bytes = std::fs::read(pending.join(staged.component_file()))?;
        verify_sha256(&staged, &bytes)?;
        let installed = self
            .apply(staged, &bytes, "registry", Some(granted))
            .await?;
        self.announce(id);
        Ok(Some(installed))
    }

    /// The update waiting for a grant, if any.
    pub fn pending(&self, id: &str) -> Option<Manifest> {
        plugins::read_manifest(&self.pending_dir.join(id)).ok()
    }
}

fn verify_sha256(manifest: &Manifest, bytes: &[u8]) -> Result<()> {
    let actual = hex::encode(Sha256::digest(bytes));
    match &manifest.sha256 {
        Some(expected) if expected.eq_ignore_ascii_case(&actual) => Ok(()),
        expected => Err(Error::Checksum {
            id: manifest.id.clone(),
            expected: expected.clone().unwrap_or_else(|| "nothing".into()),
            actual,
        }),
    }
}

/// `<data-dir>/pending`.
pub fn pending_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pending")
}
