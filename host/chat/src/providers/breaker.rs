//! Circuit breakers, one per provider plugin. A breaker is *closed* while its provider
//! answers; after `failures` consecutive failures it *opens* and the provider is skipped
//! for `open_ms`; then it is *half-open*: exactly one call (the probe) goes through, and
//! its outcome closes the breaker again or reopens it for another `open_ms`.
//!
//! The state machine ([`Breaker`]) is pure and takes the time as an argument, so it is
//! tested without sleeping; [`Breakers`] holds one per provider behind a mutex and hands
//! out [`Permit`]s, which release a half-open probe slot if the call is abandoned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::settings::BreakerConfig;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through.
    Closed,
    /// Calls are refused until `until`.
    Open { until: Instant },
    /// One probe call may go through; `probing` while it runs.
    HalfOpen { probing: bool },
}

/// Why a breaker refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Open; calls resume (with a probe) after this long.
    Open {
        /// Time left before the half-open probe.
        retry_in: Duration,
    },
    /// Half-open and its one probe call is still running.
    Probing,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Open { retry_in } => {
                write!(f, "breaker open (probe in {} ms)", retry_in.as_millis())
            }
            Refusal::Probing => f.write_str("breaker half-open (a probe call is running)"),
        }
    }
}

/// One provider's breaker and its figures.
#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    consecutive: u32,
    failures: u64,
    successes: u64,
    opened: u64,
    last_error: Option<String>,
    last_code: Option<&'static str>,
    last_failure_at: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
}

impl Default for Breaker {
    fn default() -> Breaker {
        Breaker {
            state: State::Closed,
            consecutive: 0,
            failures: 0,
            successes: 0,
            opened: 0,
            last_error: None,
            last_code: None,
            last_failure_at: None,
            last_success_at: None,
        }
    }
}

/// Whether an admitted call is an ordinary one or the half-open probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker is closed.
    Normal,
    /// The breaker is half-open and this call decides.
    Probe,
}

impl Breaker {
    /// Decides whether a call may go through at `now`.
    pub fn admit(&mut self, now: Instant) -> Result<Admission, Refusal> {
        match self.state {
            State::Closed => Ok(Admission::Normal),
            State::Open { until } if now < until => Err(Refusal::Open {
                retry_in: until - now,
            }),
            State::Open { .. } | State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Ok(Admission::Probe)
            }
            State::HalfOpen { probing: true } => Err(Refusal::Probing),
        }
    }

    /// Whether a call would be admitted at `now`, without taking the probe slot.
    pub fn would_admit(&self, now: Instant) -> Result<Admission, Refusal> {
        self.clone().admit(now)
    }

    /// The provider answered: the breaker closes.
    pub fn succeeded(&mut self) {
        self.state = State::Closed;
        self.consecutive = 0;
        self.successes += 1;
        self.last_success_at = Some(Utc::now());
    }

    /// The provider failed with `code` and `message` at `now`.
    pub fn failed(
        &mut self,
        now: Instant,
        settings: &BreakerConfig,
        admission: Admission,
        code: &'static str,
        message: &str,
    ) {
        self.consecutive = self.consecutive.saturating_add(1);
        self.failures += 1;
        self.last_error = Some(message.to_string());
        self.last_code = Some(code);
        self.last_failure_at = Some(Utc::now());
        let trips = match (admission, self.state) {
            // The probe failed: open again for another period.
            (Admission::Probe, _) | (_, State::HalfOpen { .. }) => true,
            (Admission::Normal, State::Closed) => self.consecutive >= settings.failures,
            // Already open (a call admitted before it opened): leave the period alone.
            (Admission::Normal, State::Open { .. }) => false,
        };
        if trips {
            self.state = State::Open {
                until: now + Duration::from_millis(settings.open_ms),
            };
            self.opened += 1;
        }
    }

    /// The call was abandoned before it had an outcome: a probe frees its slot.
    pub fn abandoned(&mut self, admission: Admission) {
        if admission == Admission::Probe && self.state == (State::HalfOpen { probing: true }) {
            self.state = State::HalfOpen { probing: false };
        }
    }

    /// What the status endpoint shows at `now`.
    pub fn view(&self, now: Instant) -> BreakerView {
        let (state, retry_in_ms) = match self.state {
            State::Closed => ("closed", None),
            State::Open { until } if now < until => {
                ("open", Some((until - now).as_millis() as u64))
            }
            State::Open { .. } | State::HalfOpen { .. } => ("half-open", None),
        };
        BreakerView {
            state,
            consecutive_failures: self.consecutive,
            failures: self.failures,
            successes: self.successes,
            times_opened: self.opened,
            retry_in_ms,
            last_error: self.last_error.clone(),
            last_error_code: self.last_code,
            last_failure_at: self.last_failure_at.map(|t| t.to_rfc3339()),
            last_success_at: self.last_success_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A breaker as `GET /api/providers` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakerView {
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Failures counted since the server started.
    pub failures: u64,
    /// Successes counted since the server started.
    pub successes: u64,
    /// How many times it opened.
    pub times_opened: u64,
    /// When open: milliseconds until a probe call is let through.
    pub retry_in_ms: Option<u64>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The last failure's code (`unavailable`, `timeout`, ...).
    pub last_error_code: Option<&'static str>,
    /// When the last failure happened.
    pub last_failure_at: Option<String>,
    /// When the last success happened.
    pub last_success_at: Option<String>,
}

/// The breakers of every provider, with the shared settings.
#[derive(Default)]
pub struct Breakers {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: BreakerConfig,
    breakers: BTreeMap<String, Breaker>,
}

impl Breakers {
    /// Breakers with `settings`.
    pub fn new(settings: BreakerConfig) -> Breakers {
        Breakers {
            inner: Mutex::new(Inner {
                settings,
                breakers: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The settings in force.
    pub fn settings(&self) -> BreakerConfig {
        self.lock().settings
    }

    /// Replaces the settings; breakers keep their state (an open one keeps its period).
    pub fn set_settings(&self, settings: BreakerConfig) {
        self.lock().settings = settings;
    }

    /// Asks `provider`'s breaker to let a call through.
    pub fn acquire(self: &Arc<Self>, provider: &str) -> Result<Permit, Refusal> {
        let admission = self
            .lock()
            .breakers
            .entry(provider.to_string())
            .or_default()
            .admit(Instant::now())?;
        Ok(Permit {
            breakers: self.clone(),
            provider: provider.to_string(),
            admission,
            settled: false,
        })
    }

    /// Whether `provider`'s breaker would let a call through now (for the status view).
    pub fn check(&self, provider: &str) -> Result<Admission, Refusal> {
        match self.lock().breakers.get(provider) {
            Some(breaker) => breaker.would_admit(Instant::now()),
            None => Ok(Admission::Normal),
        }
    }

    /// `provider`'s breaker as the status endpoint shows it.
    pub fn view(&self, provider: &str) -> BreakerView {
        let now = Instant::now();
        match self.lock().breakers.get(provider) {
            Some(breaker) => breaker.view(now),
            None => Breaker::default().view(now),
        }
    }
}

/// The right to make one call through a breaker. Report the outcome with
/// [`Permit::succeeded`] or [`Permit::failed`]; dropping it unreported (the caller gave
/// up) frees a half-open probe slot without counting anything.
pub struct Permit {
    breakers: Arc<Breakers>,
    provider: String,
    admission: Admission,
    settled: bool,
}

impl Permit {
    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.admission == Admission::Probe
    }

    /// The provider answered.
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut inner = self.breakers.lock();
        let was_open = inner
            .breakers
            .get(&self.provider)
            .is_some_and(|b| b.state != State::Closed);
        inner
            .breakers
            .entry(self.provider.clone())
            .or_default()
            .succeeded();
        if was_open {
            tracing::info!(provider = %self.provider, "circuit breaker closed: the provider answered");
        }
    }

    /// The provider failed.
    pub fn failed(mut self, code: &'static str, message: &str) {
        self.settled = true;
        let mut inner = self.breakers.lock();
        let settings = inner.settings;
        let breaker = inner.breakers.entry(self.provider.clone()).or_default();
        let opened_before = breaker.opened;
        breaker.failed(Instant::now(), &settings, self.admission, code, message);
        if breaker.opened > opened_before {
            tracing::warn!(
                provider = %self.provider,
                consecutive_failures = breaker.consecutive,
                open_ms = settings.open_ms,
                code,
                "circuit breaker opened"
            );
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            let mut inner = self.breakers.lock();
            if let Some(breaker) = inner.breakers.get_mut(&self.provider) {
                breaker.abandoned(self.admission);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: BreakerConfig = BreakerConfig {
        failures: 3,
        open_ms: 1000,
    };

    fn fail(breaker: &mut Breaker, now: Instant) {
        let admission = breaker.admit(now).expect("admitted");
        breaker.failed(now, &SETTINGS, admission, "unavailable", "upstream 500");
    }

    #[test]
    fn opens_after_the_configured_number_of_consecutive_failures() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        fail(&mut breaker, t0);
        fail(&mut breaker, t0);
        assert_eq!(breaker.admit(t0), Ok(Admission::Normal));
        breaker.failed(t0, &SETTINGS, Admission::Normal, "timeout", "slow");
        let refused = breaker.admit(t0 + Duration::from_millis(10));
        assert!(
            matches!(refused, Err(Refusal::Open { retry_in }) if retry_in == Duration::from_millis(990)),
            "{refused:?}"
        );
        let view = breaker.view(t0);
        assert_eq!(view.state, "open");
        assert_eq!(view.consecutive_failures, 3);
        assert_eq!(view.last_error.as_deref(), Some("slow"));
        assert_eq!(view.last_error_code, Some("timeout"));
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        fail(&mut breaker, t0);
        fail(&mut breaker, t0);
        breaker.succeeded();
        fail(&mut breaker, t0);
        fail(&mut breaker, t0);
        assert_eq!(breaker.admit(t0), Ok(Admission::Normal));
        assert_eq!(breaker.view(t0).failures, 4);
    }

    #[test]
    fn half_opens_after_open_ms_and_lets_exactly_one_probe_through() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&mut breaker, t0);
        }
        let later = t0 + Duration::from_millis(1000);
        assert_eq!(breaker.view(later).state, "half-open");
        assert_eq!(breaker.admit(later), Ok(Admission::Probe));
        assert_eq!(breaker.admit(later), Err(Refusal::Probing));
        breaker.succeeded();
        assert_eq!(breaker.admit(later), Ok(Admission::Normal));
        assert_eq!(breaker.view(later).state, "closed");
    }

    #[test]
    fn a_failed_probe_reopens_for_another_period() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&mut breaker, t0);
        }
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(breaker.admit(t1), Ok(Admission::Probe));
        breaker.failed(t1, &SETTINGS, Admission::Probe, "unavailable", "still down");
        assert!(matches!(
            breaker.admit(t1 + Duration::from_millis(999)),
            Err(Refusal::Open { .. })
        ));
        assert_eq!(
            breaker.admit(t1 + Duration::from_millis(1000)),
            Ok(Admission::Probe)
        );
        assert_eq!(breaker.view(t1).times_opened, 2);
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot_for_the_next_caller() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&mut breaker, t0);
        }
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(breaker.admit(t1), Ok(Admission::Probe));
        breaker.abandoned(Admission::Probe);
        assert_eq!(breaker.admit(t1), Ok(Admission::Probe));
    }

    #[test]
    fn a_dropped_permit_counts_nothing_but_frees_the_probe() {
        let breakers = Arc::new(Breakers::new(BreakerConfig {
            failures: 1,
            open_ms: 1,
        }));
        breakers
            .acquire("p")
            .expect("closed")
            .failed("unavailable", "down");
        std::thread::sleep(Duration::from_millis(5));
        let probe = breakers.acquire("p").expect("half-open");
        assert!(probe.is_probe());
        assert!(matches!(breakers.acquire("p"), Err(Refusal::Probing)));
        drop(probe);
        let probe = breakers.acquire("p").expect("the slot is free again");
        probe.succeeded();
        let view = breakers.view("p");
        assert_eq!(view.state, "closed");
        assert_eq!((view.failures, view.successes), (1, 1));
    }

    #[test]
    fn an_unknown_provider_has_a_closed_breaker() {
        let breakers = Breakers::new(BreakerConfig::default());
        assert_eq!(breakers.check("nobody"), Ok(Admission::Normal));
        assert_eq!(breakers.view("nobody").state, "closed");
    }
}
