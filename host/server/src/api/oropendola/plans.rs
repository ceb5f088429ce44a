//! Subscription plans (`[[plans]]`, `[subscriptions]`) and their limits on the Oropendola
//! methods: requests a minute and chat calls a day, per user, kept in the same kind of
//! budget as the rate limiter ([`crate::auth::ratelimit`]: a GCRA token bucket per key,
//! the `governor` crate). Over a limit: 429 `RateLimitExceededError` with `Retry-After`.
//! `subscription.check` and `subscription.get_info` show the caller's plan and what is left.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Answer, Caller, answer};
use crate::auth::principal;
use crate::config::{Config, PlanConfig};
use crate::error::ApiError;
use crate::state::AppState;

type Bucket =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// One plan's buckets.
struct PlanBudget {
    plan: PlanConfig,
    requests: Option<Bucket>,
    chats: Option<Bucket>,
}

/// The budgets of every plan, and which user has which plan (cheap to clone).
#[derive(Clone)]
pub struct Budgets(Arc<Inner>);

struct Inner {
    plans: Vec<PlanBudget>,
    users: HashMap<String, usize>,
    default: Option<usize>,
    /// What was left of each caller's allowances at its last request / chat call.
    left: Mutex<HashMap<String, Left>>,
    clock: DefaultClock,
}

/// What is left of a caller's requests this minute and chat calls today, when known.
type Left = (Option<u32>, Option<u32>);

/// Which methods are chat calls (counted against `chat_calls_per_day`).
const CHAT_METHODS: [&str; 3] = ["chat.send_message", "chat.stream", "files.analyze"];

impl Budgets {
    /// The budgets `config`'s plans describe.
    pub fn new(config: &Config) -> Budgets {
        let plans: Vec<PlanBudget> = config
            .plans
            .iter()
            .map(|plan| PlanBudget {
                plan: plan.clone(),
                requests: NonZeroU32::new(plan.requests_per_minute).map(|n| {
                    RateLimiter::keyed(Quota::per_minute(n))
                        .with_middleware::<StateInformationMiddleware>()
                }),
                chats: NonZeroU32::new(plan.chat_calls_per_day).map(|n| {
                    let period = Duration::from_secs(86_400) / n.get();
                    let quota = Quota::with_period(period)
                        .unwrap_or_else(|| Quota::per_second(n))
                        .allow_burst(n);
                    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
                }),
            })
            .collect();
        let index = |name: &str| plans.iter().position(|p| p.plan.name == name);
        let users = config
            .subscriptions
            .users
            .iter()
            .filter_map(|(user, plan)| Some((user.clone(), index(plan)?)))
            .collect();
        let default = match &config.subscriptions.default_plan {
            Some(name) => index(name),
            None if plans.is_empty() => None,
            None => Some(0),
        };
        Budgets(Arc::new(Inner {
            plans,
            users,
            default,
            left: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }))
    }

    fn plan_of(&self, caller: &Caller) -> Option<&PlanBudget> {
        let index = self.0.users.get(&caller.name).copied().or(self.0.default)?;
        self.0.plans.get(index)
    }

    /// Takes one request (and, for a chat method, one chat call) from `caller`'s plan.
    fn take(&self, caller: &Caller, chat: bool) -> Result<(), ApiError> {
        let Some(budget) = self.plan_of(caller) else {
            return Ok(());
        };
        let mut left = self.0.left.lock().unwrap_or_else(|e| e.into_inner());
        let entry = left.entry(caller.id.clone()).or_default();
        if let Some(bucket) = &budget.requests {
            match bucket.check_key(&caller.id) {
                Ok(snapshot) => entry.0 = Some(snapshot.remaining_burst_capacity()),
                Err(not_until) => {
                    entry.0 = Some(0);
                    return Err(ApiError::too_many_requests(
                        format!(
                            "The {} plan allows {} requests a minute; retry after the time in Retry-After",
                            budget.plan.name, budget.plan.requests_per_minute
                        ),
                        not_until.wait_time_from(self.0.clock.now()),
                    ));
                }
            }
        }
        if chat && let Some(bucket) = &budget.chats {
            match bucket.check_key(&caller.id) {
                Ok(snapshot) => entry.1 = Some(snapshot.remaining_burst_capacity()),
                Err(not_until) => {
                    entry.1 = Some(0);
                    return Err(ApiError::too_many_requests(
                        format!(
                            "The {} plan allows {} chat calls a day; retry after the time in Retry-After",
                            budget.plan.name, budget.plan.chat_calls_per_day
                        ),
                        not_until.wait_time_from(self.0.clock.now()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The caller's plan and what is left of it, as the subscription methods show it.
    fn describe(&self, caller: &Caller) -> PlanState {
        let left = self
            .0
            .left
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&caller.id)
            .copied()
            .unwrap_or_default();
        match self.plan_of(caller) {
            None => PlanState {
                plan: "unlimited".to_owned(),
                limits: PlanLimits {
                    requests_per_minute: None,
                    chat_calls_per_day: None,
                },
                remaining: PlanRemaining {
                    requests_this_minute: None,
                    chat_calls_today: None,
                },
            },
            Some(budget) => {
                let limit = |n: u32| (n > 0).then_some(n);
                let requests = limit(budget.plan.requests_per_minute);
                let chats = limit(budget.plan.chat_calls_per_day);
                PlanState {
                    plan: budget.plan.name.clone(),
                    limits: PlanLimits {
                        requests_per_minute: requests,
                        chat_calls_per_day: chats,
                    },
                    remaining: PlanRemaining {
                        requests_this_minute: requests.map(|n| left.0.unwrap_or(n)),
                        chat_calls_today: chats.map(|n| left.1.unwrap_or(n)),
                    },
                }
            }
        }
    }
}

/// What [`enforce`] works with.
#[derive(Clone)]
pub struct Enforcer {
    /// The plans' budgets.
    pub budgets: Budgets,
    /// The app state, to resolve the caller.
    pub state: AppState,
}

/// Middleware: takes the caller's request (and chat call) from its plan's budget, or
/// answers 429. Anonymous requests pass on to the method, which refuses them.
pub async fn enforce(State(enforcer): State<Enforcer>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let resolved = principal::resolved(&mut parts, &enforcer.state).await;
    if let Some(principal) = resolved.principal() {
        let caller = super::caller_of(principal);
        let path = parts.uri.path();
        let chat = CHAT_METHODS
            .iter()
            .any(|m| path.strip_prefix(super::PREFIX) == Some(m));
        if let Err(err) = enforcer.budgets.take(&caller, chat) {
            tracing::debug!(caller = %caller.name, path, "plan limit reached");
            return err.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// `subscription.check`: whether the caller's subscription is active, and its plan.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.subscription.check", tag = "oropendola",
    summary = "Whether the caller's subscription is active, and its plan",
    description = "Whether the caller's subscription is active, and its plan",
    responses(
        (status = 200, description = "`{message: {active, plan, limits, remaining}}`", body = Answer<PlanCheck>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn check(
    caller: Caller,
    Extension(budgets): Extension<Budgets>,
) -> axum::Json<Answer<PlanCheck>> {
    answer(PlanCheck {
        state: budgets.describe(&caller),
        active: true,
        user: caller.name,
    })
}

/// `subscription.get_info`: the caller's plan, its limits and what is left, and every plan.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.subscription.get_info", tag = "oropendola",
    summary = "The caller's plan, limits, what is left, and every plan",
    description = "The caller's plan, limits, what is left, and every plan",
    responses(
        (status = 200, description = "`{message: {plan, limits, remaining, plans}}`", body = Answer<PlanInfo>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn get_info(
    caller: Caller,
    State(state): State<AppState>,
    Extension(budgets): Extension<Budgets>,
) -> axum::Json<Answer<PlanInfo>> {
    answer(PlanInfo {
        state: budgets.describe(&caller),
        user: caller.name,
        status: "Active",
        plans: state
            .config
            .plans
            .iter()
            .map(|p| PlanEntry {
                name: p.name.clone(),
                requests_per_minute: p.requests_per_minute,
                chat_calls_per_day: p.chat_calls_per_day,
            })
            .collect(),
    })
}

/// A caller's plan, its limits and what is left (`null`: unlimited).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanState {
    /// The plan's name (`unlimited` without one).
    plan: String,
    /// Its limits.
    limits: PlanLimits,
    /// What is left of them.
    remaining: PlanRemaining,
}

/// A plan's limits (`null`: unlimited).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanLimits {
    /// Requests a minute.
    requests_per_minute: Option<u32>,
    /// Chat calls a day.
    chat_calls_per_day: Option<u32>,
}

/// What is left of a plan's limits (`null`: unlimited).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanRemaining {
    /// Requests left this minute.
    requests_this_minute: Option<u32>,
    /// Chat calls left today.
    chat_calls_today: Option<u32>,
}

/// `subscription.check`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanCheck {
    /// The plan.
    #[serde(flatten)]
    state: PlanState,
    /// Always `true`.
    active: bool,
    /// The caller.
    user: String,
}

/// `subscription.get_info`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanInfo {
    /// The plan.
    #[serde(flatten)]
    state: PlanState,
    /// The caller.
    user: String,
    /// Always `Active`.
    status: &'static str,
    /// Every plan.
    plans: Vec<PlanEntry>,
}

/// A plan of `[[plans]]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanEntry {
    /// Its name.
    name: String,
    /// Requests a minute (`0`: unlimited).
    requests_per_minute: u32,
    /// Chat calls a day (`0`: unlimited).
    chat_calls_per_day: u32,
}
