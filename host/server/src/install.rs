//! Installing, updating, removing, enabling and granting plugins: the operations behind
//! the marketplace API. An install verifies the component's sha256 and the plugin's API
//! requirement before anything is written, records the granted permissions in the
//! database, and writes the plugin into the plugins directory through temporary files
//! renamed into place. An update that asks for more permissions than were granted is
//! staged under `<data-dir>/pending/` and applied only once they are granted.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tracing::info;

use crate::clock;
use crate::db::Db;
use crate::manifest::{self, Manifest, Permissions};
use crate::plugins::{self, PluginHost};
use crate::registry::Registry;
use crate::runtime::LoadError;

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
    /// Database failure.
    #[error(transparent)]
    Db(#[from] crate::db::Error),
    /// Filesystem failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The database row of an installed plugin.
#[derive(Debug, Clone, Serialize)]
pub struct InstallRecord {
    /// Plugin id.
    pub id: String,
    /// Installed version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The permissions the operator granted.
    pub granted: Permissions,
    /// sha256 of the installed component.
    pub sha256: String,
    /// `bundled`, `registry` or `disk`.
    pub source: String,
    /// When it was first installed.
    pub installed_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl Db {
    /// The install record of `id`.
    pub async fn install_record(&self, id: &str) -> crate::db::Result<Option<InstallRecord>> {
        let row = sqlx::query(
            "SELECT id, version, kind, enabled, permissions, sha256, source, installed_at, updated_at \
             FROM installed_plugins WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| InstallRecord {
            id: row.get("id"),
            version: row.get("version"),
            kind: row.get("kind"),
            enabled: row.get::<i64, _>("enabled") != 0,
            granted: serde_json::from_str(&row.get::<String, _>("permissions")).unwrap_or_default(),
            sha256: row.get("sha256"),
            source: row.get("source"),
            installed_at: row.get("installed_at"),
            updated_at: row.get("updated_at"),
        }))
    }

    /// Records (or updates) an installed plugin and the permissions granted to it.
    pub async fn record_install(
        &self,
        manifest: &Manifest,
        granted: &Permissions,
        source: &str,
    ) -> crate::db::Result<()> {
        let now = clock::timestamp();
        let permissions = serde_json::to_string(granted).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "INSERT INTO installed_plugins \
             (id, version, kind, enabled, permissions, sha256, source, installed_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $7) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, kind = excluded.kind, \
             permissions = excluded.permissions, sha256 = excluded.sha256, \
             source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(&manifest.id)
        .bind(manifest.version.to_string())
        .bind(manifest.kind.as_str())
        .bind(permissions)
        .bind(manifest.sha256.clone().unwrap_or_default())
        .bind(source)
        .bind(now)
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM plugin_removals WHERE id = $1")
            .bind(&manifest.id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Updates the permissions granted to `id`.
    pub async fn record_grant(&self, id: &str, granted: &Permissions) -> crate::db::Result<()> {
        sqlx::query("UPDATE installed_plugins SET permissions = $1, updated_at = $2 WHERE id = $3")
            .bind(serde_json::to_string(granted).unwrap_or_else(|_| "{}".into()))
            .bind(clock::timestamp())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Enables or disables `id`; `false` when it is not installed.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> crate::db::Result<bool> {
        let done =
            sqlx::query("UPDATE installed_plugins SET enabled = $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(enabled))
                .bind(clock::timestamp())
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets `id`, remembering that it was removed (and `sha256`, the component removed,
    /// when known) so start-up does not reinstall it, and (unless `keep_data`) deletes its
    /// key-value data, so a plugin installed later under the same id never reads it. One
    /// transaction: all of it or none.
    pub async fn record_removal(
        &self,
        id: &str,
        sha256: Option<&str>,
        keep_data: bool,
    ) -> crate::db::Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM installed_plugins WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if !keep_data {
            sqlx::query("DELETE FROM plugin_kv WHERE plugin_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO plugin_removals (id, removed_at, sha256) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET removed_at = excluded.removed_at, sha256 = excluded.sha256",
        )
        .bind(id)
        .bind(clock::timestamp())
        .bind(sha256.unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the operator removed `id`.
    pub async fn was_removed(&self, id: &str) -> crate::db::Result<bool> {
        Ok(self.removal(id).await?.is_some())
    }

    /// When the operator removed `id`: `Some(sha256)` of the component removed (empty
    /// when not recorded), `None` when `id` was not removed.
    pub async fn removal(&self, id: &str) -> crate::db::Result<Option<String>> {
        let row = sqlx::query("SELECT sha256 FROM plugin_removals WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| row.try_get::<String, _>("sha256"))
            .transpose()
            .map_err(Into::into)
    }
}

/// The marketplace operations over one installation.
pub struct Installer<'a> {
    /// The database.
    pub db: &'a Db,
    /// The live set.
    pub plugins: &'a PluginHost,
    /// The registry to install from.
    pub registry: &'a Registry,
    /// `<data-dir>/pending`, where updates wait for a grant.
    pub pending_dir: PathBuf,
    /// Which signatures installs and uploads must carry.
    pub signatures: &'a crate::signing::SignaturesConfig,
    /// The other nodes, told of every change ([`crate::plugins::reconcile`]).
    pub cluster: &'a crate::cluster::Cluster,
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
        self.cluster.publish(crate::cluster::Event::PluginsChanged {
            plugin: id.to_owned(),
        });
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
        let record = self.db.install_record(id).await?;
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
                self.db
                    .record_install(&manifest, &granted, source)
                    .await
                    .map_err(Error::from)
            }
            Err(e) => Err(Error::from(e)),
        };
        let stored = match (recorded, source) {
            (Ok(()), plugins::BUNDLED_SOURCE) => Ok(()),
            // Where the other nodes of this database find it.
            (Ok(()), _) => plugins::reconcile::store_component(self.db, &manifest, bytes)
                .await
                .map_err(|e| Error::Io(std::io::Error::other(format!("{e:#}")))),
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
        let record = self.db.install_record(id).await?;
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
        self.db
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
        if !self.db.set_enabled(id, enabled).await? {
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
        let Some(record) = self.db.install_record(id).await? else {
            return Err(Error::NotFound(id.to_string()));
        };
        self.plugins
            .check_permissions(id, &granted)
            .map_err(Error::Permission)?;
        self.db.record_grant(id, &granted).await?;
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

#[cfg(test)]
mod tests {
    use crate::db::testing;

    #[tokio::test]
    async fn a_removal_deletes_the_plugins_data_unless_it_is_kept_on_every_backend() {
        for db in testing::all().await {
            for (keep, left) in [(false, None), (true, Some("v"))] {
                db.kv_set("gone", "k", "v").await.expect("set");
                db.kv_set("other", "k", "v").await.expect("set");
                db.record_removal("gone", Some("abc"), keep)
                    .await
                    .expect("removal");
                assert!(db.was_removed("gone").await.expect("read"));
                assert_eq!(
                    db.kv_get("gone", "k").await.expect("get").as_deref(),
                    left,
                    "keep_data={keep}"
                );
                assert_eq!(
                    db.kv_get("other", "k").await.expect("get").as_deref(),
                    Some("v"),
                    "another plugin's data stays"
                );
            }
        }
    }
}
