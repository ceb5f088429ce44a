//! Services shared by every store: the plugins' key-value store (with its quotas), system
//! figures, the directory of installed plugins, the secrets plugins may be given, and
//! where calls and denials are reported. Each comes from the host through a small trait
//! ([`KvStore`], [`SystemFigures`], [`CallObserver`], [`Denials`]), so the runtime
//! depends on no database, HTTP server or metrics crate.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tracing::warn;

use super::PluginSummary;
use crate::audit::{Denials, Kind, LogDenials};
use crate::kv::{KvStore, MemoryKv};
use crate::observe::CallObserver;
use crate::system::SystemFigures;

/// Environment variables and secrets no plugin may be given, whatever its manifest says:
/// the host's own settings and credentials.
pub const RESERVED_PREFIX: &str = "SANCTUARY_";

/// Services shared by every store.
pub struct HostServices {
    kv: Arc<dyn KvStore>,
    /// Machine figures for the `system` interface.
    pub system: Arc<dyn SystemFigures>,
    directory: RwLock<Arc<Vec<PluginSummary>>>,
    /// Secrets plugins may ask for, by name (host environment and secrets file).
    secrets: RwLock<HashMap<String, String>>,
    /// Where every call is reported (`/api/analytics`, `/metrics`), once set.
    pub(crate) recorder: OnceLock<Arc<dyn CallObserver>>,
    /// Where every denial is reported (`GET /api/plugins/{id}/audit`).
    denials: Arc<dyn Denials>,
    /// One lock per plugin: its kv writes (quota check and write) happen one at a time.
    kv_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HostServices {
    /// Services over `kv` (an in-memory store when `None`) and `system`; denials go to
    /// the log until [`HostServices::with_denials`] names where they go.
    pub fn new(kv: Option<Arc<dyn KvStore>>, system: Arc<dyn SystemFigures>) -> HostServices {
        HostServices {
            kv: kv.unwrap_or_else(|| Arc::new(MemoryKv::default())),
            system,
            directory: RwLock::new(Arc::new(Vec::new())),
            secrets: RwLock::new(HashMap::new()),
            recorder: OnceLock::new(),
            denials: Arc::new(LogDenials),
            kv_locks: Mutex::new(HashMap::new()),
        }
    }

    /// These services reporting every denial to `denials`.
    pub fn with_denials(mut self, denials: Arc<dyn Denials>) -> HostServices {
        self.denials = denials;
        self
    }

    /// Where denials are reported.
    pub fn denials(&self) -> &Arc<dyn Denials> {
        &self.denials
    }

    /// Reports every later plugin call to `recorder` (the first one set stays).
    pub fn set_recorder(&self, recorder: Arc<dyn CallObserver>) {
        let _ = self.recorder.set(recorder);
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

    /// Whether secret `name` is set (in the secrets store or the environment) and may be
    /// given to a plugin that declares it. Never says what it is.
    pub fn has_secret(&self, name: &str) -> bool {
        !self.resolve_secrets(&[name.to_string()]).is_empty()
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
        self.kv
            .get(plugin, key)
            .await
            .inspect_err(|e| warn!(plugin, cause = %e, "kv get failed"))
            .ok()
            .flatten()
    }

    /// Sets `key` to `value` unless that takes the plugin past `max_keys` keys or
    /// `max_chars` characters of keys and values; then nothing is written and the error
    /// says which quota (and the refusal is reported).
    pub(crate) async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        max_keys: u64,
        max_chars: u64,
    ) -> Result<(), String> {
        let lock = self.kv_lock(plugin);
        let _one_at_a_time = lock.lock().await;
        let old = self.kv_get(plugin, key).await;
        self.kv_quota(plugin, key, old.as_deref(), value, max_keys, max_chars)
            .await?;
        if let Err(e) = self.kv.set(plugin, key, value).await {
            warn!(plugin, cause = %e, "kv set failed");
        }
        Ok(())
    }

    /// Sets `key` to `new` (removes it when `None`) only if its value is `expected`
    /// (`None`: absent), in one atomic step of the store; whether it applied. A write
    /// is held to the same quotas as [`HostServices::kv_set`] (a refusal is the error,
    /// and is reported); a store failure is logged and reads as not applied.
    pub(crate) async fn kv_compare_and_swap(
        &self,
        plugin: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        max_keys: u64,
        max_chars: u64,
    ) -> Result<bool, String> {
        let swap = || async {
            self.kv
                .compare_and_swap(plugin, key, expected, new)
                .await
                .inspect_err(|e| warn!(plugin, cause = %e, "kv compare-and-swap failed"))
                .unwrap_or(false)
        };
        let Some(value) = new else {
            // A removal never takes the plugin past a quota.
            return Ok(swap().await);
        };
        let lock = self.kv_lock(plugin);
        let _one_at_a_time = lock.lock().await;
        // A value that already differs fails the swap without a quota question; when it
        // matches, the quota is checked against it and the store's swap decides.
        let old = self.kv_get(plugin, key).await;
        if old.as_deref() != expected {
            return Ok(false);
        }
        self.kv_quota(plugin, key, expected, value, max_keys, max_chars)
            .await?;
        Ok(swap().await)
    }

    /// The lock that makes `plugin`'s quota checks and writes happen one at a time.
    fn kv_lock(&self, plugin: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.kv_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(plugin.to_string()).or_default().clone()
    }

    /// Refuses (and reports) replacing `old` (`None`: a new key) with `value` at `key`
    /// when that takes `plugin` past `max_keys` keys or `max_chars` characters.
    async fn kv_quota(
        &self,
        plugin: &str,
        key: &str,
        old: Option<&str>,
        value: &str,
        max_keys: u64,
        max_chars: u64,
    ) -> Result<(), String> {
        let (keys, chars) = self
            .kv
            .usage(plugin)
            .await
            .inspect_err(|e| warn!(plugin, cause = %e, "kv usage failed"))
            .unwrap_or((0, 0));
        let chars_of = |k: &str, v: &str| (k.chars().count() + v.chars().count()) as u64;
        let keys_after = keys + u64::from(old.is_none());
        let chars_after =
            chars - old.map_or(0, |v| chars_of(key, v)).min(chars) + chars_of(key, value);
        let refusal = if keys_after > max_keys {
            Some(format!("kv_keys: {keys_after} keys, at most {max_keys}"))
        } else if chars_after > max_chars {
            Some(format!(
                "kv_bytes: {chars_after} characters of keys and values, at most {max_chars}"
            ))
        } else {
            None
        };
        match refusal {
            Some(reason) => {
                self.denials.deny(plugin, Kind::Quota, reason.clone());
                Err(reason)
            }
            None => Ok(()),
        }
    }

    pub(crate) async fn kv_delete(&self, plugin: &str, key: &str) -> bool {
        self.kv
            .delete(plugin, key)
            .await
            .inspect_err(|e| warn!(plugin, cause = %e, "kv delete failed"))
            .unwrap_or(false)
    }

    pub(crate) async fn kv_list(&self, plugin: &str, prefix: &str) -> Vec<String> {
        self.kv
            .list(plugin, prefix)
            .await
            .inspect_err(|e| warn!(plugin, cause = %e, "kv list failed"))
            .unwrap_or_default()
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
    use crate::system::{Cpu, Disk, Memory, Network};

    /// Figures of an idle machine, for tests.
    struct Idle;

    impl SystemFigures for Idle {
        fn cpu(&self) -> Cpu {
            Cpu {
                usage_percent: 0.0,
                cores: 1,
                load_average: (0.0, 0.0, 0.0),
            }
        }
        fn memory(&self) -> Memory {
            Memory {
                total_bytes: 1,
                used_bytes: 0,
                available_bytes: 1,
                host_process_bytes: 0,
            }
        }
        fn disks(&self) -> Vec<Disk> {
            Vec::new()
        }
        fn network(&self) -> Network {
            Network {
                received_bytes: 0,
                transmitted_bytes: 0,
            }
        }
        fn uptime_seconds(&self) -> f64 {
            0.0
        }
    }

    /// Denials kept in memory, for tests.
    #[derive(Default)]
    struct Kept(Mutex<Vec<(String, Kind)>>);

    impl Denials for Kept {
        fn deny(&self, plugin: &str, kind: Kind, _detail: String) {
            self.0
                .lock()
                .expect("lock")
                .push((plugin.to_string(), kind));
        }
    }

    #[tokio::test]
    async fn the_hosts_own_secrets_are_never_resolved() {
        let services = HostServices::new(None, Arc::new(Idle));
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
        let kept = Arc::new(Kept::default());
        let services = HostServices::new(None, Arc::new(Idle)).with_denials(kept.clone());
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
        let kept = kept.0.lock().expect("lock");
        assert_eq!(*kept, vec![("p".to_string(), Kind::Quota); 2]);
    }

    #[tokio::test]
    async fn compare_and_swap_applies_only_over_the_expected_value_within_the_quotas() {
        let kept = Arc::new(Kept::default());
        let services = HostServices::new(None, Arc::new(Idle)).with_denials(kept.clone());
        let cas =
            |key, expected, new| services.kv_compare_and_swap("p", key, expected, new, 2, 100);
        // Absent expected: creates only a missing key.
        assert_eq!(cas("a", None, Some("1")).await, Ok(true));
        assert_eq!(cas("a", None, Some("2")).await, Ok(false));
        // A stale expected value changes nothing.
        assert_eq!(cas("a", Some("0"), Some("2")).await, Ok(false));
        assert_eq!(cas("a", Some("1"), Some("2")).await, Ok(true));
        assert_eq!(services.kv_get("p", "a").await.as_deref(), Some("2"));
        // None as the new value removes the key, only over the expected value.
        assert_eq!(cas("a", Some("1"), None).await, Ok(false));
        assert_eq!(cas("a", Some("2"), None).await, Ok(true));
        assert_eq!(services.kv_get("p", "a").await, None);
        // The quotas hold: a third key, or too many characters, is refused and audited.
        assert_eq!(cas("a", None, Some("1")).await, Ok(true));
        assert_eq!(cas("b", None, Some("1")).await, Ok(true));
        let keys = cas("c", None, Some("1")).await.expect_err("third key");
        assert!(keys.starts_with("kv_keys"), "{keys}");
        let big = "x".repeat(200);
        let bytes = cas("a", Some("1"), Some(&big)).await.expect_err("too big");
        assert!(bytes.starts_with("kv_bytes"), "{bytes}");
        // A swap that would not apply is not a quota question.
        assert_eq!(cas("c", Some("nothing"), Some(&big)).await, Ok(false));
        assert_eq!(services.kv_get("p", "a").await.as_deref(), Some("1"));
        let kept = kept.0.lock().expect("lock");
        assert_eq!(*kept, vec![("p".to_string(), Kind::Quota); 2]);
    }
}
