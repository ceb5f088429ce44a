//! Services shared by every store: the database (the plugins' key-value store, with its
//! quotas), system figures, the directory of installed plugins, the secrets plugins may
//! be given, the call recorder and the audit of denials.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use tracing::warn;

use super::PluginSummary;
use crate::db::Db;
use crate::system::Sampler;

/// Environment variables and secrets no plugin may be given, whatever its manifest says:
/// the host's own settings and credentials.
pub const RESERVED_PREFIX: &str = "SANCTUARY_";

/// Services shared by every store: the database (plugin key-value store), system figures,
/// and the directory of installed plugins.
pub struct HostServices {
    db: Option<Db>,
    /// Machine figures for the `system` interface.
    pub system: Arc<Sampler>,
    directory: RwLock<Arc<Vec<PluginSummary>>>,
    /// Key-value store used when no database is attached (benchmarks, unit tests).
    memory_kv: tokio::sync::Mutex<BTreeMap<(String, String), String>>,
    /// Secrets plugins may ask for, by name (host environment and secrets file).
    secrets: RwLock<HashMap<String, String>>,
    /// Where every call is recorded (`/api/analytics`, `/metrics`), once set.
    pub(crate) recorder: std::sync::OnceLock<crate::telemetry::Recorder>,
    /// Where every denial is recorded (`GET /api/plugins/{id}/audit`).
    audit: Arc<crate::audit::Audit>,
    /// One lock per plugin: its kv writes (quota check and write) happen one at a time.
    kv_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HostServices {
    /// Services backed by `db` (or an in-memory key-value store when `None`).
    pub fn new(db: Option<Db>, system: Arc<Sampler>) -> HostServices {
        let db_for_audit = db.clone();
        HostServices {
            db,
            system,
            directory: RwLock::new(Arc::new(Vec::new())),
            memory_kv: tokio::sync::Mutex::new(BTreeMap::new()),
            secrets: RwLock::new(HashMap::new()),
            recorder: std::sync::OnceLock::new(),
            audit: Arc::new(crate::audit::Audit::new(db_for_audit)),
            kv_locks: Mutex::new(HashMap::new()),
        }
    }

    /// The audit of denied access.
    pub fn audit(&self) -> &Arc<crate::audit::Audit> {
        &self.audit
    }

    /// Records every later plugin call through `recorder` (the first one set stays).
    pub fn set_recorder(&self, recorder: crate::telemetry::Recorder) {
        let _ = self.recorder.set(recorder);
    }

    /// The database, when attached.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    /// The installed plugins as plugins see them.
    pub fn directory(&self) -> Arc<Vec<PluginSummary>> {
        match self.directory.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the directory (called whenever the live set changes).
    pub fn set_directory(&self, plugins: Vec<PluginSummary>) {
        let mut guard = match self.directory.write() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(plugins);
    }

    /// Sets secrets available to plugins that declare them (in addition to the host's
    /// environment).
    pub fn set_secrets(&self, secrets: HashMap<String, String>) {
        if let Ok(mut guard) = self.secrets.write() {
            *guard = secrets;
        }
    }

    /// The declared secrets that are set, from the secrets store or the environment.
    /// The host's own (`SANCTUARY_*`) are never given, whatever was declared.
    pub(crate) fn resolve_secrets(&self, declared: &[String]) -> BTreeMap<String, String> {
        let store = self.secrets.read().ok();
        declared
            .iter()
            .filter(|name| !is_reserved(name))
            .filter_map(|name| {
                let value = store
                    .as_ref()
                    .and_then(|s| s.get(name).cloned())
                    .or_else(|| std::env::var(name).ok())?;
                Some((name.clone(), value))
            })
            .collect()
    }

    pub(crate) async fn kv_get(&self, plugin: &str, key: &str) -> Option<String> {
        match &self.db {
            Some(db) => db
                .kv_get(plugin, key)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv get failed"))
                .ok()
                .flatten(),
            None => self
                .memory_kv
                .lock()
                .await
                .get(&(plugin.to_string(), key.to_string()))
                .cloned(),
        }
    }

    /// Sets `key` to `value` unless that takes the plugin past `max_keys` keys or
    /// `max_chars` characters of keys and values; then nothing is written and the error
    /// says which quota (and the refusal is audited).
    pub(crate) async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        max_keys: u64,
        max_chars: u64,
    ) -> Result<(), String> {
        let lock = {
            let mut locks = self.kv_locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(plugin.to_string()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        let old = self.kv_get(plugin, key).await;
        let (keys, chars) = self.kv_usage(plugin).await;
        let chars_of = |k: &str, v: &str| (k.chars().count() + v.chars().count()) as u64;
        let keys_after = keys + u64::from(old.is_none());
        let chars_after = chars - old.as_deref().map_or(0, |v| chars_of(key, v)).min(chars)
            + chars_of(key, value);
        let refusal = if keys_after > max_keys {
            Some(format!("kv_keys: {keys_after} keys, at most {max_keys}"))
        } else if chars_after > max_chars {
            Some(format!(
                "kv_bytes: {chars_after} characters of keys and values, at most {max_chars}"
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.audit
                .deny(plugin, crate::audit::Kind::Quota, reason.clone());
            return Err(reason);
        }
        match &self.db {
            Some(db) => {
                if let Err(e) = db.kv_set(plugin, key, value).await {
                    warn!(plugin, cause = %e, "kv set failed");
                }
            }
            None => {
                self.memory_kv
                    .lock()
                    .await
                    .insert((plugin.to_string(), key.to_string()), value.to_string());
            }
        }
        Ok(())
    }

    /// How many keys `plugin` keeps and how many characters they and their values hold.
    async fn kv_usage(&self, plugin: &str) -> (u64, u64) {
        match &self.db {
            Some(db) => db
                .kv_usage(plugin)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv usage failed"))
                .unwrap_or((0, 0)),
            None => {
                let kv = self.memory_kv.lock().await;
                kv.iter()
                    .filter(|((p, _), _)| p == plugin)
                    .fold((0, 0), |(n, c), ((_, k), v)| {
                        (n + 1, c + (k.chars().count() + v.chars().count()) as u64)
                    })
            }
        }
    }

    pub(crate) async fn kv_delete(&self, plugin: &str, key: &str) -> bool {
        match &self.db {
            Some(db) => db
                .kv_delete(plugin, key)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv delete failed"))
                .unwrap_or(false),
            None => self
                .memory_kv
                .lock()
                .await
                .remove(&(plugin.to_string(), key.to_string()))
                .is_some(),
        }
    }

    pub(crate) async fn kv_list(&self, plugin: &str, prefix: &str) -> Vec<String> {
        match &self.db {
            Some(db) => db
                .kv_list(plugin, prefix)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv list failed"))
                .unwrap_or_default(),
            None => self
                .memory_kv
                .lock()
                .await
                .keys()
                .filter(|(p, k)| p == plugin && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect(),
        }
    }
}

/// Whether `name` is one of the host's own settings or credentials, never given to a
/// plugin as a secret or an environment variable.
pub fn is_reserved(name: &str) -> bool {
    name.to_ascii_uppercase().starts_with(RESERVED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_hosts_own_secrets_are_never_resolved() {
        let services = HostServices::new(None, Arc::new(Sampler::new()));
        services.set_secrets(HashMap::from([
            ("SANCTUARY_ADMIN_TOKEN".to_string(), "root".to_string()),
            ("API_KEY".to_string(), "k".to_string()),
        ]));
        let resolved = services.resolve_secrets(&[
            "SANCTUARY_ADMIN_TOKEN".to_string(),
            "sanctuary_admin_token".to_string(),
            "API_KEY".to_string(),
        ]);
        assert_eq!(resolved.keys().collect::<Vec<_>>(), ["API_KEY"]);
    }

    #[tokio::test]
    async fn kv_writes_past_a_quota_are_refused_and_audited() {
        let services = HostServices::new(None, Arc::new(Sampler::new()));
        assert!(services.kv_set("p", "a", "1234", 2, 100).await.is_ok());
        assert!(services.kv_set("p", "b", "1234", 2, 100).await.is_ok());
        // Replacing a value is not a new key.
        assert!(services.kv_set("p", "a", "12345678", 2, 100).await.is_ok());
        let keys = services
            .kv_set("p", "c", "1", 2, 100)
            .await
            .expect_err("third key");
        assert!(keys.starts_with("kv_keys"), "{keys}");
        let bytes = services
            .kv_set("p", "a", &"x".repeat(200), 2, 100)
            .await
            .expect_err("too big");
        assert!(bytes.starts_with("kv_bytes"), "{bytes}");
        assert_eq!(services.kv_get("p", "a").await.as_deref(), Some("12345678"));
        // Another plugin has its own quota.
        assert!(services.kv_set("q", "c", "1", 2, 100).await.is_ok());
        let page = services
            .audit()
            .page("p", Some(crate::audit::Kind::Quota), 10, 0)
            .await
            .expect("page");
        assert_eq!(page.total, 2);
    }
}
