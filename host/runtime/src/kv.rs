//! The plugins' key-value store as the runtime sees it: a [`KvStore`] the host provides
//! (the server's database table `plugin_kv`), or [`MemoryKv`] when there is none (the
//! author CLI's `plugin check`, benchmarks, unit tests). Quotas and the per-plugin write
//! lock are the runtime's ([`crate::HostServices`]); a store only stores.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

/// A result of a store operation; the error is the store's own, logged by the caller.
pub type KvResult<T> = anyhow::Result<T>;

/// Storage for the plugins' key-value pairs, by plugin id and key.
pub trait KvStore: Send + Sync {
    /// The value of `key`, if set.
    fn get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Option<String>>>;
    /// Sets `key` to `value`.
    fn set<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, KvResult<()>>;
    /// Removes `key`; whether it was set.
    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>>;
    /// In one atomic step: if `key`'s value is `expected` (`None`: the key is absent),
    /// sets it to `new` (`None`: removes it); whether it did. Atomic against every other
    /// writer of the store, including other processes sharing it.
    fn compare_and_swap<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        expected: Option<&'a str>,
        new: Option<&'a str>,
    ) -> BoxFuture<'a, KvResult<bool>>;
    /// The keys starting with `prefix`, in order.
    fn list<'a>(&'a self, plugin: &'a str, prefix: &'a str)
    -> BoxFuture<'a, KvResult<Vec<String>>>;
    /// How many keys `plugin` keeps and how many characters they and their values hold.
    fn usage<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, KvResult<(u64, u64)>>;
}

/// A key-value store in memory, lost with the process.
#[derive(Debug, Default)]
pub struct MemoryKv {
    pairs: tokio::sync::Mutex<BTreeMap<(String, String), String>>,
}

impl KvStore for MemoryKv {
    fn get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Option<String>>> {
        Box::pin(async move {
            let pairs = self.pairs.lock().await;
            Ok(pairs.get(&(plugin.to_string(), key.to_string())).cloned())
        })
    }

    fn set<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, KvResult<()>> {
        Box::pin(async move {
            let mut pairs = self.pairs.lock().await;
            pairs.insert((plugin.to_string(), key.to_string()), value.to_string());
            Ok(())
        })
    }

    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>> {
        Box::pin(async move {
            let mut pairs = self.pairs.lock().await;
            Ok(pairs
                .remove(&(plugin.to_string(), key.to_string()))
                .is_some())
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        expected: Option<&'a str>,
        new: Option<&'a str>,
    ) -> BoxFuture<'a, KvResult<bool>> {
        Box::pin(async move {
            let mut pairs = self.pairs.lock().await;
            let at = (plugin.to_string(), key.to_string());
            if pairs.get(&at).map(String::as_str) != expected {
                return Ok(false);
            }
            match new {
                Some(value) => pairs.insert(at, value.to_string()),
                None => pairs.remove(&at),
            };
            Ok(true)
        })
    }

    fn list<'a>(
        &'a self,
        plugin: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, KvResult<Vec<String>>> {
        Box::pin(async move {
            let pairs = self.pairs.lock().await;
            Ok(pairs
                .keys()
                .filter(|(p, k)| p == plugin && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect())
        })
    }

    fn usage<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, KvResult<(u64, u64)>> {
        Box::pin(async move {
            let pairs = self.pairs.lock().await;
            Ok(pairs
                .iter()
                .filter(|((p, _), _)| p == plugin)
                .fold((0, 0), |(n, c), ((_, k), v)| {
                    (n + 1, c + (k.chars().count() + v.chars().count()) as u64)
                }))
        })
    }
}
