//! Cranelift's incremental compilation cache, kept in memory: every function the host
//! compiles is stored under a key of its content, so a new build of a plugin that changed
//! a few functions (the usual hot swap while developing, or a rebuild with a new custom
//! section) compiles only those and takes the rest from here. The whole-component cache on
//! disk (`[runtime] cache_dir`) still answers a component seen before at once; this one
//! covers the components it has never seen.
//!
//! Bounded by bytes ([`FunctionCache::LIMIT`]): past it the oldest half of the entries is
//! dropped.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use wasmtime::CacheStore;

/// Compiled functions by content key.
#[derive(Debug, Default)]
pub(crate) struct FunctionCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Vec<u8>>,
    order: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl FunctionCache {
    /// Bytes of compiled functions kept at most.
    pub(crate) const LIMIT: usize = 64 << 20;

    /// Entries held (for tests and logs).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        self.lock().map.get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let size = key.len() + value.len();
        if size > Self::LIMIT / 4 {
            return false;
        }
        let mut entries = self.lock();
        if entries.bytes + size > Self::LIMIT {
            let drop_count = entries.order.len().div_ceil(2);
            for _ in 0..drop_count {
                if let Some(old) = entries.order.pop_front()
                    && let Some(v) = entries.map.remove(&old)
                {
                    entries.bytes -= old.len() + v.len();
                }
            }
        }
        if let Some(previous) = entries.map.insert(key.to_vec(), value) {
            entries.bytes -= key.len() + previous.len();
        } else {
            entries.order.push_back(key.to_vec());
        }
        entries.bytes += size;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_is_given_within_its_bound() {
        let cache = FunctionCache::default();
        assert!(cache.insert(b"f", vec![1, 2, 3]));
        assert_eq!(cache.get(b"f").as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(cache.get(b"g").is_none());
        // Past the bound the oldest half goes; the newest entry stays.
        let big = vec![0u8; FunctionCache::LIMIT / 8];
        for i in 0..12u32 {
            assert!(cache.insert(&i.to_le_bytes(), big.clone()));
        }
        assert!(cache.lock().bytes <= FunctionCache::LIMIT);
        assert!(cache.get(&11u32.to_le_bytes()).is_some());
        assert!(cache.get(b"f").is_none());
        assert!(cache.len() < 13);
    }
}
