//! Per-plugin budgets: how many calls of one plugin run at once (and how many may wait),
//! how many it may start a minute, how many log lines it may write a minute, and how much
//! it may keep in the key-value store. A spent budget fails that plugin's call with
//! [`CallError::Busy`] (or, for the kv store, the write) and never touches another plugin.
//!
//! Values come from three places: the host's defaults (`[budgets]` in the config file),
//! the plugin's manifest (`budgets`, capped by the host's [`Limits::ceiling`]), and the
//! operator's override for that plugin (`[budgets.plugin.<id>]`, not capped: the operator
//! decides).
//!
//! [`CallError::Busy`]: super::CallError::Busy

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget values of one plugin. In a manifest or the config file every field is
/// optional; what is missing comes from the host's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// Calls that may run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Calls that may wait for a free slot before callers are told the plugin is busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// Calls that may start in a minute (`0`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_minute: Option<u32>,
    /// Log lines it may write in a minute, over all its calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_lines_per_minute: Option<u32>,
    /// Bytes (keys plus values) it may keep in the key-value store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_bytes: Option<u64>,
    /// Keys it may keep in the key-value store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_keys: Option<u64>,
}

/// A plugin's resolved budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Calls that may run at once.
    pub max_concurrent: u32,
    /// Calls that may wait for a slot.
    pub queue: u32,
    /// Calls a minute (`0`: unlimited).
    pub calls_per_minute: u32,
    /// Log lines a minute.
    pub log_lines_per_minute: u32,
    /// Key-value bytes.
    pub kv_bytes: u64,
    /// Key-value keys.
    pub kv_keys: u64,
}

impl Default for Limits {
    /// The host's defaults when the config file says nothing.
    fn default() -> Limits {
        Limits {
            max_concurrent: 16,
            queue: 64,
            calls_per_minute: 0,
            log_lines_per_minute: 1200,
            kv_bytes: 16 << 20,
            kv_keys: 10_000,
        }
    }
}

impl Limits {
    /// The most a manifest may ask for (operators may set more).
    pub fn ceiling() -> Limits {
        Limits {
            max_concurrent: 64,
            queue: 256,
            calls_per_minute: 0,
            log_lines_per_minute: 6000,
            kv_bytes: 256 << 20,
            kv_keys: 1_000_000,
        }
    }

    /// `self` with each value `spec` sets replaced.
    pub fn with(mut self, spec: &BudgetSpec) -> Limits {
        if let Some(v) = spec.max_concurrent {
            self.max_concurrent = v;
        }
        if let Some(v) = spec.queue {
            self.queue = v;
        }
        if let Some(v) = spec.calls_per_minute {
            self.calls_per_minute = v;
        }
        if let Some(v) = spec.log_lines_per_minute {
            self.log_lines_per_minute = v;
        }
        if let Some(v) = spec.kv_bytes {
            self.kv_bytes = v;
        }
        if let Some(v) = spec.kv_keys {
            self.kv_keys = v;
        }
        self
    }

    /// The budget of a plugin: the host's `defaults`, then what its manifest asks for
    /// (each value at most the [`ceiling`](Limits::ceiling); an unlimited rate counts as
    /// the most), then the operator's override.
    pub fn resolve(
        defaults: Limits,
        manifest: Option<&BudgetSpec>,
        operator: Option<&BudgetSpec>,
    ) -> Limits {
        let mut limits = defaults;
        if let Some(asked) = manifest {
            let ceiling = Limits::ceiling();
            let asked = BudgetSpec {
                max_concurrent: asked.max_concurrent.map(|v| v.min(ceiling.max_concurrent)),
                queue: asked.queue.map(|v| v.min(ceiling.queue)),
                // A manifest may lower its rate, never lift the host's.
                calls_per_minute: asked.calls_per_minute.and_then(|v| {
                    let host = defaults.calls_per_minute;
                    match (v, host) {
                        (0, _) => None,
                        (v, 0) => Some(v),
                        (v, host) => Some(v.min(host)),
                    }
                }),
                log_lines_per_minute: asked
                    .log_lines_per_minute
                    .map(|v| v.min(ceiling.log_lines_per_minute)),
                kv_bytes: asked.kv_bytes.map(|v| v.min(ceiling.kv_bytes)),
                kv_keys: asked.kv_keys.map(|v| v.min(ceiling.kv_keys)),
            };
            limits = limits.with(&asked);
        }
        if let Some(set) = operator {
            limits = limits.with(set);
        }
        limits.max_concurrent = limits.max_concurrent.max(1);
        limits
    }
}

/// A token bucket refilled continuously: `per_minute` tokens a minute, as many at most.
#[derive(Debug)]
struct Bucket {
    per_minute: u32,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn new(per_minute: u32) -> Bucket {
        Bucket {
            per_minute,
            state: Mutex::new((f64::from(per_minute), Instant::now())),
        }
    }

    /// Takes a token; `false` when none is left (`per_minute == 0` never runs out).
    fn take(&self) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *state;
        let rate = f64::from(self.per_minute) / 60.0;
        *tokens = (*tokens + last.elapsed().as_secs_f64() * rate).min(f64::from(self.per_minute));
        *last = Instant::now();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why admission failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot taken and the queue full (or the wait ran out).
    Busy(String),
    /// No calls left this minute.
    Rate(String),
}

/// The live budget of one loaded plugin.
#[derive(Debug)]
pub struct Budget {
    /// The resolved values.
    pub limits: Limits,
    slots: std::sync::Arc<Semaphore>,
    waiting: AtomicUsize,
    calls: Bucket,
    logs: Bucket,
}

impl Budget {
    /// A budget with `limits`.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            slots: std::sync::Arc::new(Semaphore::new(limits.max_concurrent as usize)),
            waiting: AtomicUsize::new(0),
            calls: Bucket::new(limits.calls_per_minute),
            logs: Bucket::new(limits.log_lines_per_minute),
        }
    }

    /// Admits one call: a token of the minute's rate, then a slot, waiting at most `wait`
    /// in the queue. The slot is held until the permit is dropped.
    pub async fn admit(&self, wait: Duration) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return self.rate().map(|()| permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        if queued >= self.limits.queue as usize {
            return Err(Refusal::Busy(format!(
                "{} calls running and {} waiting (its max_concurrent and queue)",
                self.limits.max_concurrent, self.limits.queue
            )));
        }
        match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => self.rate().map(|()| permit),
            _ => Err(Refusal::Busy(format!(
                "all {} of its call slots stayed taken for {} ms",
                self.limits.max_concurrent,
                wait.as_millis()
            ))),
        }
    }

    fn rate(&self) -> Result<(), Refusal> {
        if self.calls.take() {
            Ok(())
        } else {
            Err(Refusal::Rate(format!(
                "it may start {} calls a minute (its calls_per_minute)",
                self.limits.calls_per_minute
            )))
        }
    }

    /// Takes one log line from the minute's allowance; `false` when it is spent.
    pub fn log_line(&self) -> bool {
        self.logs.take()
    }

    /// Calls running now.
    pub fn running(&self) -> usize {
        self.limits.max_concurrent as usize - self.slots.available_permits()
    }

    /// Calls waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Leaves the queue when dropped (also when the waiting caller goes away).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Per-plugin budgets (`[budgets]`, see [`crate::budget`]). The keys at the top
/// are the host's defaults; `[budgets.plugin.<id>]` overrides them for one plugin (an
/// operator's value is not capped). Takes effect when a plugin is next loaded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetsConfig {
    /// Calls of one plugin that may run at once (default 16).
    pub max_concurrent: Option<u32>,
    /// Calls that may wait for a slot before callers are told it is busy (default 64).
    pub queue: Option<u32>,
    /// Calls one plugin may start a minute (default 0: unlimited).
    pub calls_per_minute: Option<u32>,
    /// Log lines one plugin may write a minute (default 1200).
    pub log_lines_per_minute: Option<u32>,
    /// Bytes one plugin may keep in the key-value store (default 16 MiB).
    pub kv_bytes: Option<u64>,
    /// Keys one plugin may keep in the key-value store (default 10000).
    pub kv_keys: Option<u64>,
    /// Overrides for single plugins, by id.
    pub plugin: BTreeMap<String, BudgetSpec>,
}

impl BudgetsConfig {
    /// The host's default budget.
    pub fn defaults(&self) -> Limits {
        Limits::default().with(&BudgetSpec {
            max_concurrent: self.max_concurrent,
            queue: self.queue,
            calls_per_minute: self.calls_per_minute,
            log_lines_per_minute: self.log_lines_per_minute,
            kv_bytes: self.kv_bytes,
            kv_keys: self.kv_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_is_capped_by_the_ceiling_and_an_operator_is_not() {
        let asked = BudgetSpec {
            max_concurrent: Some(10_000),
            kv_bytes: Some(1),
            ..BudgetSpec::default()
        };
        let limits = Limits::resolve(Limits::default(), Some(&asked), None);
        assert_eq!(limits.max_concurrent, Limits::ceiling().max_concurrent);
        assert_eq!(limits.kv_bytes, 1);
        let operator = BudgetSpec {
            max_concurrent: Some(500),
            ..BudgetSpec::default()
        };
        let limits = Limits::resolve(Limits::default(), Some(&asked), Some(&operator));
        assert_eq!(limits.max_concurrent, 500);
    }

    #[test]
    fn a_manifest_may_lower_the_call_rate_but_not_lift_it() {
        let host = Limits {
            calls_per_minute: 100,
            ..Limits::default()
        };
        let lift = BudgetSpec {
            calls_per_minute: Some(0),
            ..BudgetSpec::default()
        };
        assert_eq!(
            Limits::resolve(host, Some(&lift), None).calls_per_minute,
            100
        );
        let lower = BudgetSpec {
            calls_per_minute: Some(10),
            ..BudgetSpec::default()
        };
        assert_eq!(
            Limits::resolve(host, Some(&lower), None).calls_per_minute,
            10
        );
        let higher = BudgetSpec {
            calls_per_minute: Some(1000),
            ..BudgetSpec::default()
        };
        assert_eq!(
            Limits::resolve(host, Some(&higher), None).calls_per_minute,
            100
        );
    }

    #[tokio::test]
    async fn calls_past_the_slots_wait_in_the_queue_and_past_the_queue_are_busy() {
        let budget = std::sync::Arc::new(Budget::new(Limits {
            max_concurrent: 2,
            queue: 1,
            ..Limits::default()
        }));
        let a = budget.admit(Duration::from_secs(5)).await.expect("slot 1");
        let _b = budget.admit(Duration::from_secs(5)).await.expect("slot 2");
        assert_eq!(budget.running(), 2);
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.admit(Duration::from_secs(5)).await.is_ok() })
        };
        while budget.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        match budget.admit(Duration::from_secs(5)).await {
            Err(Refusal::Busy(reason)) => assert!(reason.contains("waiting"), "{reason}"),
            other => panic!("expected busy, got {other:?}"),
        }
        drop(a);
        assert!(
            waiter.await.expect("join"),
            "the queued call got the freed slot"
        );
        assert_eq!(budget.waiting(), 0);
    }

    #[tokio::test]
    async fn a_wait_that_runs_out_is_busy() {
        let budget = Budget::new(Limits {
            max_concurrent: 1,
            ..Limits::default()
        });
        let _held = budget.admit(Duration::ZERO).await.expect("slot");
        assert!(matches!(
            budget.admit(Duration::from_millis(20)).await,
            Err(Refusal::Busy(_))
        ));
        assert_eq!(budget.waiting(), 0);
    }

    #[tokio::test]
    async fn the_call_rate_runs_out_within_the_minute() {
        let budget = Budget::new(Limits {
            calls_per_minute: 3,
            ..Limits::default()
        });
        for _ in 0..3 {
            drop(budget.admit(Duration::ZERO).await.expect("within the rate"));
        }
        assert!(matches!(
            budget.admit(Duration::ZERO).await,
            Err(Refusal::Rate(_))
        ));
    }
}
