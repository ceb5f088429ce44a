//! Warm instances of plugins whose manifest allows reuse (`"instances": "reuse"`): after
//! a call that ended well, the store and its instance wait here, keyed by the caller,
//! and the next call of the same caller takes them instead of instantiating. An entry
//! is dropped after [`MAX_CALLS`] calls or [`MAX_AGE`], so a slow leak in a plugin is
//! bounded, and at most [`SLOTS`] wait per plugin (each holds a slot of the instance
//! pool). A call that trapped, overran a budget or wrote to stderr never puts its
//! instance back (see `call.rs`).

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmtime::Store;

use crate::state::StoreState;

/// Calls one warm instance serves before it is retired.
pub(crate) const MAX_CALLS: u32 = 10_000;

/// How long a warm instance is kept from its instantiation.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);

/// Warm instances kept per plugin.
pub(crate) const SLOTS: usize = 8;

/// One warm instance: its store, the kind's bindings (downcast by the kind's call path)
/// and whom it served.
pub(crate) struct Warm {
    pub(crate) caller: Arc<str>,
    pub(crate) store: Store<StoreState>,
    pub(crate) guest: Box<dyn Any + Send>,
    pub(crate) calls: u32,
    pub(crate) born: Instant,
}

impl Warm {
    fn expired(&self, now: Instant) -> bool {
        self.calls >= MAX_CALLS || now.duration_since(self.born) >= MAX_AGE
    }
}

/// The warm instances of one plugin.
#[derive(Default)]
pub(crate) struct WarmPool {
    slots: Mutex<Vec<Warm>>,
}

impl WarmPool {
    fn lock(&self) -> MutexGuard<'_, Vec<Warm>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A warm instance that served `caller`, if one waits (expired ones are dropped,
    /// outside the lock).
    pub(crate) fn take(&self, caller: &str) -> Option<Warm> {
        let now = Instant::now();
        let (found, expired) = {
            let mut slots = self.lock();
            let expired: Vec<Warm> = extract(&mut slots, |w| w.expired(now));
            let found = slots
                .iter()
                .rposition(|w| &*w.caller == caller)
                .map(|i| slots.swap_remove(i));
            (found, expired)
        };
        drop(expired);
        found
    }

    /// Keeps `warm` for its caller's next call, unless it is spent or every slot is taken.
    pub(crate) fn put(&self, warm: Warm) {
        if warm.expired(Instant::now()) {
            return;
        }
        let mut slots = self.lock();
        if slots.len() < SLOTS {
            slots.push(warm);
        }
    }

    /// How many warm instances wait.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes and returns the entries of `slots` that match `pred`.
fn extract(slots: &mut Vec<Warm>, pred: impl Fn(&Warm) -> bool) -> Vec<Warm> {
    let mut taken = Vec::new();
    let mut i = 0;
    while i < slots.len() {
        if pred(&slots[i]) {
            taken.push(slots.swap_remove(i));
        } else {
            i += 1;
        }
    }
    taken
}
