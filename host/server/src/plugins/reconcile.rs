//! Plugins reconciled from the database, so that every node sharing it serves the same
//! set: what the database records as installed (version, enabled, grant) or removed wins
//! over what one node's plugins directory holds.
//!
//! Installs and uploads store their component in `plugin_components`, by sha256
//! ([`store_component`]); a node that lacks it writes it from there. Each node reconciles
//! at start, before it loads ([`PluginHost::reconcile_all`]), and whenever another node
//! says a plugin changed ([`follow`], through [`crate::cluster::Event::PluginsChanged`]).
//! Bundled plugins come with every binary and are not stored. A plugin dropped by hand
//! into one node's plugins directory stays that node's alone, even under the id of a
//! plugin removed earlier (the removal records which component it removed).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row as _;
use tracing::{info, warn};

use super::{MANIFEST_FILE, PluginHost, read_manifest, write_plugin};
use crate::clock;
use crate::db::Db;
use crate::manifest::Manifest;
use crate::state::AppState;

/// Stores `bytes`, the component of `manifest`, where every node can read it. A component
/// already stored (same sha256) keeps its bytes and takes `manifest`: an update may change
/// only the manifest (a new version asking for more permissions, granted), and the other
/// nodes must write the manifest now installed.
pub async fn store_component(db: &Db, manifest: &Manifest, bytes: &[u8]) -> anyhow::Result<()> {
    let sha256 = manifest
        .sha256
        .clone()
        .unwrap_or_else(|| hex::encode(crate::signing::digest(bytes)));
    sqlx::query(
        "INSERT INTO plugin_components (sha256, plugin_id, manifest, component, stored_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO UPDATE SET \
         plugin_id = excluded.plugin_id, manifest = excluded.manifest, stored_at = excluded.stored_at",
    )
    .bind(&sha256)
    .bind(&manifest.id)
    .bind(serde_json::to_string(manifest)?)
    .bind(STANDARD.encode(bytes))
    .bind(clock::timestamp())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The stored component with `sha256` and the manifest it was installed with.
pub async fn stored_component(
    db: &Db,
    sha256: &str,
) -> anyhow::Result<Option<(Manifest, Vec<u8>)>> {
    let row = sqlx::query("SELECT manifest, component FROM plugin_components WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let manifest: Manifest = serde_json::from_str(&row.try_get::<String, _>("manifest")?)?;
    let bytes = STANDARD.decode(row.try_get::<String, _>("component")?)?;
    if hex::encode(crate::signing::digest(&bytes)) != sha256 {
        anyhow::bail!("the stored component does not match its sha256 {sha256}");
    }
    Ok(Some((manifest, bytes)))
}

/// The manifest stored with the component `sha256`, if it is stored.
async fn stored_manifest(db: &Db, sha256: &str) -> anyhow::Result<Option<Manifest>> {
    let row = sqlx::query("SELECT manifest FROM plugin_components WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| {
        Ok(serde_json::from_str(
            &row.try_get::<String, _>("manifest")?,
        )?)
    })
    .transpose()
}

/// Follows a change another node made to plugin `id`: brings this node's files and live
/// set in line with the database. Failures are logged; the node keeps serving.
pub async fn follow(state: &AppState, id: &str) {
    if crate::manifest::validate_id(id).is_err() {
        warn!(plugin = %crate::logsafe::Safe(id), "ignoring a plugin change event with an invalid id");
        return;
    }
    let Some(db) = state.plugins.db() else { return };
    let _change = state.plugins.lock_changes(id).await;
    match state.plugins.reconcile_one(db, id, true).await {
        Ok(Some(done)) => {
            info!(plugin = %id, done, "followed a plugin change made on another node")
        }
        Ok(None) => {}
        Err(err) => {
            warn!(plugin = %id, cause = %format!("{err:#}"), "could not follow a plugin change made on another node");
        }
    }
}

impl PluginHost {
    /// Brings every plugin directory in line with the database before the start-up load:
    /// installed plugins whose files here are missing or another version are written from
    /// the stored components; directories of plugins removed through the API (on any
    /// node) are deleted.
    pub(super) async fn reconcile_all(&self) {
        let Some(db) = self.db() else { return };
        let ids = match installed_and_removed(db).await {
            Ok(ids) => ids,
            Err(err) => {
                warn!(cause = %format!("{err:#}"), "could not read the installed plugins to reconcile with");
                return;
            }
        };
        for id in ids {
            match self.reconcile_one(db, &id, false).await {
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
    pub(super) async fn reconcile_one(
        &self,
        db: &Db,
        id: &str,
        load: bool,
    ) -> anyhow::Result<Option<&'static str>> {
        let dir = self.plugins_dir().join(id);
        let Some(record) = db.install_record(id).await? else {
            let Some(removed) = db.removal(id).await? else {
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
            Some(here) if here.sha256.as_deref() == Some(record.sha256.as_str()) => {
                stored_manifest(db, &record.sha256)
                    .await?
                    .is_none_or(|stored| stored == here)
            }
            _ => false,
        };
        let mut done = None;
        if !current {
            let Some((manifest, bytes)) = stored_component(db, &record.sha256).await? else {
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

/// Every plugin id the database records as installed or removed.
async fn installed_and_removed(db: &Db) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query("SELECT id FROM installed_plugins UNION SELECT id FROM plugin_removals")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String, _>("id")?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &[u8] = b"\0asm stored bytes";

    fn manifest(version: &str, env: &[&str]) -> Manifest {
        let mut manifest = Manifest::from_json(&format!(
            r#"{{"schema_version":1,"id":"stored","name":"Stored","kind":"health-probe",
                "version":"{version}","api":"^0.2"}}"#
        ))
        .expect("manifest");
        manifest.permissions.env = env.iter().map(|name| (*name).to_owned()).collect();
        manifest.sha256 = Some(hex::encode(crate::signing::digest(COMPONENT)));
        manifest
    }

    #[tokio::test]
    async fn the_same_component_stored_again_keeps_the_manifest_it_was_last_installed_with() {
        for test_db in crate::db::testing::all().await {
            let db = test_db.db();
            let first = manifest("0.1.0", &[]);
            store_component(&db, &first, COMPONENT).await.unwrap();
            let update = manifest("0.2.0", &["FIXTURE_ENV_ALLOWED"]);
            store_component(&db, &update, COMPONENT).await.unwrap();
            let sha256 = update.sha256.clone().unwrap();
            let (stored, bytes) = stored_component(&db, &sha256)
                .await
                .unwrap()
                .expect("stored");
            assert_eq!(stored, update, "{}", db.kind());
            assert_eq!(bytes, COMPONENT);
            assert_eq!(stored_manifest(&db, &sha256).await.unwrap(), Some(update));
        }
    }
}
