//! Who actually served a route's recent calls: the chain's head is who the next call goes
//! to first, but after failovers the answer may come from further down. The last
//! [`WINDOW`] outcomes of each route are kept and summed up for `GET /api/providers`.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use utoipa::ToSchema;

use super::Outcome;

/// How many recent calls of a route are remembered.
pub const WINDOW: usize = 50;

/// The recent outcomes of one route.
#[derive(Debug, Default)]
pub struct History {
    recent: VecDeque<Outcome>,
    last_served: Option<Outcome>,
}

impl History {
    /// Adds one outcome, forgetting the oldest past [`WINDOW`].
    pub fn push(&mut self, outcome: Outcome) {
        if outcome.ok {
            self.last_served = Some(outcome.clone());
        }
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(outcome);
    }

    /// The summary shown in the status.
    pub fn view(&self) -> ServedView {
        let mut by = BTreeMap::new();
        let mut failed = 0;
        let mut fallbacks = 0;
        for outcome in &self.recent {
            match &outcome.provider {
                Some(provider) if outcome.ok => {
                    *by.entry(provider.clone()).or_insert(0) += 1;
                    if is_fallback(outcome) {
                        fallbacks += 1;
                    }
                }
                _ => failed += 1,
            }
        }
        let last = self.last_served.as_ref();
        ServedView {
            last_served_by: last.and_then(|o| o.provider.clone()),
            last_served_at: last.map(|o| o.at.clone()),
            last_fallback: last.is_some_and(is_fallback),
            calls: self.recent.len(),
            served_by: by,
            fallbacks,
            failed,
        }
    }
}

/// Whether `outcome` was answered by a provider other than the first one tried: one or
/// more before it failed or were skipped.
fn is_fallback(outcome: &Outcome) -> bool {
    match (&outcome.provider, outcome.attempts.first()) {
        (Some(provider), Some(first)) => first.provider != *provider,
        _ => false,
    }
}

/// Who served a route's recent calls.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ServedView {
    /// The provider that answered the last successful call (none: no call succeeded yet).
    pub last_served_by: Option<String>,
    /// When (RFC 3339).
    pub last_served_at: Option<String>,
    /// Whether that call was answered after failing over (providers before it in the
    /// chain failed or were skipped).
    pub last_fallback: bool,
    /// How many recent calls this sums up (at most 50).
    pub calls: usize,
    /// Of those, how many each provider answered.
    pub served_by: BTreeMap<String, usize>,
    /// Of those, how many were answered after failing over.
    pub fallbacks: usize,
    /// Of those, how many no provider answered.
    pub failed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Attempt;

    fn attempt(provider: &str, outcome: &'static str) -> Attempt {
        Attempt {
            provider: provider.into(),
            model: None,
            outcome,
            code: None,
            reason: None,
            retry: 0,
            elapsed_ms: None,
        }
    }

    fn outcome(provider: Option<&str>, attempts: Vec<Attempt>) -> Outcome {
        Outcome {
            at: "2026-01-01T00:00:00Z".into(),
            ok: provider.is_some(),
            provider: provider.map(str::to_string),
            model: None,
            elapsed_ms: 1.0,
            error: provider.is_none().then(|| "failed".to_string()),
            attempts,
        }
    }

    #[test]
    fn a_call_answered_after_failover_counts_for_the_provider_that_answered() {
        let mut history = History::default();
        history.push(outcome(Some("gemini"), vec![attempt("gemini", "ok")]));
        history.push(outcome(
            Some("local"),
            vec![attempt("gemini", "failed"), attempt("local", "ok")],
        ));
        history.push(outcome(None, vec![attempt("gemini", "failed")]));
        let view = history.view();
        assert_eq!(view.last_served_by.as_deref(), Some("local"));
        assert!(view.last_fallback);
        assert_eq!(view.calls, 3);
        assert_eq!(view.served_by["gemini"], 1);
        assert_eq!(view.served_by["local"], 1);
        assert_eq!(view.fallbacks, 1);
        assert_eq!(view.failed, 1);
    }

    #[test]
    fn only_the_last_window_of_calls_is_summed() {
        let mut history = History::default();
        for _ in 0..WINDOW + 10 {
            history.push(outcome(Some("local"), vec![attempt("local", "ok")]));
        }
        assert_eq!(history.view().calls, WINDOW);
        assert_eq!(history.view().served_by["local"], WINDOW);
        assert!(!history.view().last_fallback);
    }
}
