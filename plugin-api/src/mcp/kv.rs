//! A small persistent key-value store private to this plugin (world `mcp-server` only),
//! kept in the host's database: it survives restarts and is shared by every host on that
//! database, and by every concurrent call of the plugin.
//!
//! [`get`], [`set`], [`delete`] and [`list_keys`] read and write one key each. A value
//! computed from what was read (a counter, a list, a JSON document) must be written with
//! [`update`] (or [`compare_and_swap`]): a [`get`] followed by a [`set`] loses the writes
//! other calls make in between. Code that should also run in native unit tests can be
//! written over the [`Store`] trait, which [`Host`] implements with the host's store and a
//! test can implement over a map.

use crate::__private::mcp_server::sanctuary::plugin::kv as raw;
use crate::PluginError;

/// How many times [`update`] reads and tries again when other writers keep changing the
/// value before it can swap, before it gives up with an `unavailable` error.
pub const MAX_ATTEMPTS: u32 = 100;

/// Returns the value stored under `key`, or `None`.
pub fn get(key: &str) -> Option<String> {
    raw::get(key)
}

/// Stores `value` under `key`, replacing any previous value (whatever it is now: to
/// change a value computed from the old one, use [`update`]). Past the plugin's kv
/// quotas (`kv_keys`, `kv_bytes`) nothing is written and the call fails once it returns.
pub fn set(key: &str, value: &str) {
    raw::set(key, value);
}

/// Removes `key`; returns whether it existed.
pub fn delete(key: &str) -> bool {
    raw::delete(key)
}

/// The keys that start with `prefix`, in sorted order.
pub fn list_keys(prefix: &str) -> Vec<String> {
    raw::list_keys(prefix)
}

/// Sets `key` to `new` (removes it when `new` is `None`) only if its value is still
/// `expected` (`None`: only if it is absent), in one atomic step; returns whether it did.
/// Another call, or another host on the same database, that swapped first makes it
/// return `false`: read again and retry, which is what [`update`] does. Needs API 0.2.1
/// (a manifest `"api": "^0.2.1"`).
///
/// ```no_run
/// use sanctuary_plugin_api::mcp::kv;
///
/// // Claim a name once, whoever else tries at the same time.
/// let mine = kv::compare_and_swap("owner", None, Some("me"));
/// ```
pub fn compare_and_swap(key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
    raw::compare_and_swap(key, expected, new)
}

/// Replaces the value under `key` with `change(old)` (`None` as the result removes it)
/// without losing a concurrent write: reads the value, computes the new one, and swaps
/// it in only if the value has not changed meanwhile, or else reads and computes again
/// (so `change` may run more than once, and should only compute). Returns the value now
/// stored; `change` returning its input writes nothing. Gives up with an `unavailable`
/// error after [`MAX_ATTEMPTS`] lost races. Needs API 0.2.1 (`"api": "^0.2.1"`).
///
/// ```no_run
/// use sanctuary_plugin_api::mcp::kv;
///
/// // A counter that counts every call, however many run at once.
/// let count = kv::update("calls", |old| {
///     let n: u64 = old.and_then(|v| v.parse().ok()).unwrap_or(0);
///     Some((n + 1).to_string())
/// })?;
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn update(
    key: &str,
    change: impl FnMut(Option<String>) -> Option<String>,
) -> Result<Option<String>, PluginError> {
    Host.update(key, change)
}

/// What an atomic [`Store::update`] needs of a key-value store: reads, and a
/// compare-and-swap. [`Host`] is the host's store; implement it over a map to run code
/// written against it in native unit tests.
///
/// ```
/// use std::cell::RefCell;
/// use std::collections::BTreeMap;
///
/// use sanctuary_plugin_api::mcp::kv::Store;
///
/// #[derive(Default)]
/// struct Map(RefCell<BTreeMap<String, String>>);
///
/// impl Store for Map {
///     fn get(&self, key: &str) -> Option<String> {
///         self.0.borrow().get(key).cloned()
///     }
///     fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
///         let mut map = self.0.borrow_mut();
///         if map.get(key).map(String::as_str) != expected {
///             return false;
///         }
///         match new {
///             Some(value) => map.insert(key.into(), value.into()),
///             None => map.remove(key),
///         };
///         true
///     }
/// }
///
/// let map = Map::default();
/// map.update("n", |old| Some(format!("{}x", old.unwrap_or_default())))?;
/// assert_eq!(map.update("n", |old| old.map(|v| v + "x"))?.as_deref(), Some("xx"));
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub trait Store {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Option<String>;

    /// Sets `key` to `new` (removes it when `None`) if its value is `expected` (`None`:
    /// absent), atomically; whether it did. See [`compare_and_swap`].
    fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool;

    /// Replaces the value under `key` with `change(old)` without losing a concurrent
    /// write, retrying up to [`MAX_ATTEMPTS`] times; the value now stored. See [`update`].
    fn update(
        &self,
        key: &str,
        mut change: impl FnMut(Option<String>) -> Option<String>,
    ) -> Result<Option<String>, PluginError> {
        for _ in 0..MAX_ATTEMPTS {
            let old = self.get(key);
            let new = change(old.clone());
            if new == old || self.compare_and_swap(key, old.as_deref(), new.as_deref()) {
                return Ok(new);
            }
        }
        Err(PluginError::unavailable(format!(
            "the value under `{key}` kept changing: {MAX_ATTEMPTS} attempts to update it \
             lost to concurrent writers; try again"
        )))
    }
}

/// The host's key-value store (the functions of this module, as a [`Store`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Host;

impl Store for Host {
    fn get(&self, key: &str) -> Option<String> {
        get(key)
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
        compare_and_swap(key, expected, new)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    use super::*;

    /// A map whose value changes under the caller, as a concurrent writer would, during
    /// the first `interfere` updates.
    #[derive(Default)]
    struct Contended {
        map: RefCell<BTreeMap<String, String>>,
        interfere: Cell<u32>,
        swaps: Cell<u32>,
    }

    impl Store for Contended {
        fn get(&self, key: &str) -> Option<String> {
            self.map.borrow().get(key).cloned()
        }

        fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
            self.swaps.set(self.swaps.get() + 1);
            let mut map = self.map.borrow_mut();
            if self.interfere.get() > 0 {
                // Another writer appends its own mark first.
                self.interfere.set(self.interfere.get() - 1);
                let theirs = format!("{}+", map.get(key).cloned().unwrap_or_default());
                map.insert(key.into(), theirs);
            }
            if map.get(key).map(String::as_str) != expected {
                return false;
            }
            match new {
                Some(value) => map.insert(key.into(), value.into()),
                None => map.remove(key),
            };
            true
        }
    }

    fn append_mine(old: Option<String>) -> Option<String> {
        Some(format!("{}me", old.unwrap_or_default()))
    }

    #[test]
    fn an_update_that_loses_a_race_reads_again_and_keeps_the_other_write() {
        let store = Contended::default();
        store.interfere.set(3);
        let now = store
            .update("k", append_mine)
            .expect("applied on the fourth try");
        // Three concurrent writes landed first; ours is computed from the last of them.
        assert_eq!(now.as_deref(), Some("+++me"));
        assert_eq!(store.get("k").as_deref(), Some("+++me"));
        assert_eq!(store.swaps.get(), 4);
    }

    #[test]
    fn an_update_gives_up_after_max_attempts_lost_races() {
        let store = Contended::default();
        store.interfere.set(MAX_ATTEMPTS);
        let err = store.update("k", append_mine).expect_err("never applied");
        assert_eq!(err.kind(), "unavailable");
        assert!(err.message().contains("`k`"), "{}", err.message());
        assert_eq!(store.swaps.get(), MAX_ATTEMPTS);
        // Only the other writers' marks are stored.
        assert!(!store.get("k").unwrap_or_default().contains("me"));
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing_and_none_removes() {
        let store = Contended::default();
        assert_eq!(store.update("k", |old| old).expect("no-op"), None);
        assert_eq!(store.swaps.get(), 0);
        store.update("k", append_mine).expect("created");
        assert_eq!(store.update("k", |_| None).expect("removed"), None);
        assert_eq!(store.get("k"), None);
    }
}
