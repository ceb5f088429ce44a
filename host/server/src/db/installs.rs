//! The installation's records in the database: installed plugins with their grants
//! (`installed_plugins`), removals (`plugin_removals`) and the components every node of one
//! database can write from (`plugin_components`). The plugin host reaches them through
//! [`Installs`], which [`Db`] implements here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use sanctuary_plugins::store::{InstallRecord, Installs, StoreResult, StoredComponent};
use sqlx::Row as _;

use super::Db;
use crate::clock;
use crate::manifest::{Manifest, Permissions};

impl Db {
    /// The install record of `id`.
    pub async fn install_record(&self, id: &str) -> super::Result<Option<InstallRecord>> {
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
    ) -> super::Result<()> {
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
    pub async fn record_grant(&self, id: &str, granted: &Permissions) -> super::Result<()> {
        sqlx::query("UPDATE installed_plugins SET permissions = $1, updated_at = $2 WHERE id = $3")
            .bind(serde_json::to_string(granted).unwrap_or_else(|_| "{}".into()))
            .bind(clock::timestamp())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Enables or disables `id`; `false` when it is not installed.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> super::Result<bool> {
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
    ) -> super::Result<()> {
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
    pub async fn was_removed(&self, id: &str) -> super::Result<bool> {
        Ok(self.removal(id).await?.is_some())
    }

    /// When the operator removed `id`: `Some(sha256)` of the component removed (empty
    /// when not recorded), `None` when `id` was not removed.
    pub async fn removal(&self, id: &str) -> super::Result<Option<String>> {
        let row = sqlx::query("SELECT sha256 FROM plugin_removals WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| row.try_get::<String, _>("sha256"))
            .transpose()
            .map_err(Into::into)
    }

    /// Stores `bytes`, the component of `manifest`, where every node can read it. A component
    /// already stored (same sha256) keeps its bytes and takes `manifest`: an update may change
    /// only the manifest (a new version asking for more permissions, granted), and the other
    /// nodes must write the manifest now installed.
    pub async fn store_component(&self, manifest: &Manifest, bytes: &[u8]) -> anyhow::Result<()> {
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The stored component with `sha256` and the manifest it was installed with.
    pub async fn stored_component(
        &self,
        sha256: &str,
    ) -> anyhow::Result<Option<(Manifest, Vec<u8>)>> {
        let row =
            sqlx::query("SELECT manifest, component FROM plugin_components WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(self.pool())
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
    pub async fn stored_manifest(&self, sha256: &str) -> anyhow::Result<Option<Manifest>> {
        let row = sqlx::query("SELECT manifest FROM plugin_components WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(serde_json::from_str(
                &row.try_get::<String, _>("manifest")?,
            )?)
        })
        .transpose()
    }

    /// Every plugin id the database records as installed or removed.
    pub async fn installed_and_removed(&self) -> anyhow::Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT id FROM installed_plugins UNION SELECT id FROM plugin_removals")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("id")?))
            .collect()
    }
}

impl Installs for Db {
    fn install_record<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<InstallRecord>>> {
        Box::pin(async move { Ok(Db::install_record(self, id).await?) })
    }

    fn record_install<'a>(
        &'a self,
        manifest: &'a Manifest,
        granted: &'a Permissions,
        source: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { Ok(Db::record_install(self, manifest, granted, source).await?) })
    }

    fn record_grant<'a>(
        &'a self,
        id: &'a str,
        granted: &'a Permissions,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { Ok(Db::record_grant(self, id, granted).await?) })
    }

    fn set_enabled<'a>(&'a self, id: &'a str, enabled: bool) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move { Ok(Db::set_enabled(self, id, enabled).await?) })
    }

    fn record_removal<'a>(
        &'a self,
        id: &'a str,
        sha256: Option<&'a str>,
        keep_data: bool,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { Ok(Db::record_removal(self, id, sha256, keep_data).await?) })
    }

    fn removal<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<String>>> {
        Box::pin(async move { Ok(Db::removal(self, id).await?) })
    }

    fn store_component<'a>(
        &'a self,
        manifest: &'a Manifest,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(Db::store_component(self, manifest, bytes))
    }

    fn stored_component<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<StoredComponent>>> {
        Box::pin(Db::stored_component(self, sha256))
    }

    fn stored_manifest<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Manifest>>> {
        Box::pin(Db::stored_manifest(self, sha256))
    }

    fn installed_and_removed(&self) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        Box::pin(Db::installed_and_removed(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        for test_db in testing::all().await {
            let db = test_db.db();
            let first = manifest("0.1.0", &[]);
            db.store_component(&first, COMPONENT).await.expect("stored");
            let update = manifest("0.2.0", &["FIXTURE_ENV_ALLOWED"]);
            db.store_component(&update, COMPONENT)
                .await
                .expect("stored");
            let sha256 = update.sha256.clone().expect("a digest");
            let (stored, bytes) = db
                .stored_component(&sha256)
                .await
                .expect("read")
                .expect("stored");
            assert_eq!(stored, update, "{}", db.kind());
            assert_eq!(bytes, COMPONENT);
            assert_eq!(
                db.stored_manifest(&sha256).await.expect("read"),
                Some(update)
            );
        }
    }
}
