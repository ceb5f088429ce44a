//! `GET /api/analytics?start_date=&end_date=&granularity=hour|day` (seed 001), in the
//! seed-001 envelope: chat and plugin calls (the `calls` table, written by
//! [`crate::telemetry`]) and jobs (the `jobs` table) over a period, with totals, latency
//! percentiles, per-provider, per-route and per-plugin figures, and a timeline with every
//! bucket of the period present.
//!
//! Dates are RFC 3339 or `YYYY-MM-DD` (UTC; a bare `end_date` means the end of that day).
//! The default is the last 7 days by day. Percentiles are computed here, in Rust, so they
//! read the same on SQLite and PostgreSQL.
//!
//! What counts as a request in `totals` (and `failures` in the timeline): every chat call,
//! and every plugin call except those of AI providers, which the chat calls already count.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{DateTime, Duration, DurationRound, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::error::{Envelope, EnvelopeError, EnvelopeResult};
use crate::state::AppState;

/// Most buckets one answer may have (a year and a half by hour).
pub const MAX_BUCKETS: i64 = 13_000;
/// The period when `start_date` is not given.
const DEFAULT_DAYS: i64 = 7;
const AI_PROVIDER: &str = "ai-provider";

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/analytics", get(analytics))
}

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One bucket per UTC hour.
    Hour,
    /// One bucket per UTC day.
    Day,
}

impl Granularity {
    fn step(self) -> Duration {
        match self {
            Granularity::Hour => Duration::hours(1),
            Granularity::Day => Duration::days(1),
        }
    }

    /// The start of the bucket `at` falls in.
    fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        // Both widths divide the Unix epoch's UTC day evenly, so rounding cannot fail
        // for any representable date; fall back to `at` rather than panic.
        at.duration_trunc(self.step()).unwrap_or(at)
    }
}

/// The period asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Inclusive.
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    /// Bucket width.
    pub granularity: Granularity,
}

impl Period {
    /// Reads the query's `start_date`, `end_date` and `granularity` (other parameters are
    /// ignored) relative to `now`. The message says which parameter is wrong and why.
    pub fn parse(query: &[(String, String)], now: DateTime<Utc>) -> Result<Period, String> {
        let mut start = None;
        let mut end = None;
        let mut granularity = Granularity::Day;
        for (name, value) in query {
            let value = value.trim();
            match name.as_str() {
                "start_date" if !value.is_empty() => {
                    start = Some(instant(value, false, "start_date")?);
                }
                "end_date" if !value.is_empty() => end = Some(instant(value, true, "end_date")?),
                "granularity" => {
                    granularity = match value {
                        "hour" => Granularity::Hour,
                        "day" | "" => Granularity::Day,
                        other => {
                            return Err(format!(
                                "granularity must be `hour` or `day`, not {other:?}"
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        let end = end.unwrap_or(now);
        let start = start.unwrap_or(end - Duration::days(DEFAULT_DAYS));
        if start >= end {
            return Err("start_date must be before end_date".into());
        }
        let period = Period {
            start,
            end,
            granularity,
        };
        if period.bucket_count() > MAX_BUCKETS {
            let unit = match granularity {
                Granularity::Hour => "hourly",
                Granularity::Day => "daily",
            };
            return Err(format!(
                "the period has more than {MAX_BUCKETS} {unit} buckets; shorten it or use a coarser granularity"
            ));
        }
        Ok(period)
    }

    fn first_bucket(&self) -> DateTime<Utc> {
        self.granularity.floor(self.start)
    }

    /// How many buckets the timeline has.
    pub fn bucket_count(&self) -> i64 {
        let span = self.end - self.first_bucket();
        let step = self.granularity.step();
        // Ceiling division: a partial last bucket is still a bucket.
        (span.num_seconds() + step.num_seconds() - 1) / step.num_seconds()
    }

    /// The start of every bucket, in order.
    pub fn buckets(&self) -> Vec<DateTime<Utc>> {
        let first = self.first_bucket();
        (0..self.bucket_count())
            .map(|i| first + self.granularity.step() * i as i32)
            .collect()
    }

    /// The index of the bucket `at` falls in, when it is inside the period.
    pub fn bucket_of(&self, at: DateTime<Utc>) -> Option<usize> {
        if at < self.start || at >= self.end {
            return None;
        }
        let offset = self.granularity.floor(at) - self.first_bucket();
        usize::try_from(offset.num_seconds() / self.granularity.step().num_seconds()).ok()
    }

    fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start && at < self.end
    }
}

/// An RFC 3339 instant or a `YYYY-MM-DD` date (its start; with `end_of_day`, its end).
fn instant(text: &str, end_of_day: bool, name: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    Err(format!(
        "{name} must be an RFC 3339 time (2025-10-08T12:00:00Z) or a date (2025-10-08), not {text:?}"
    ))
}

/// The `p`th percentile (0 < p <= 100) of sorted `values` by the nearest-rank method;
/// `None` when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50, p95 and p99 of some durations, in milliseconds (`null` when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Latency {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl Latency {
    /// The percentiles of calls given as (duration, how many calls took it), any order:
    /// a rolled-up row stands for `count` calls of its mean duration.
    pub fn weighted(mut durations: Vec<(f64, u64)>) -> Latency {
        if durations.iter().all(|(_, n)| *n == 1) {
            return Latency::of(durations.into_iter().map(|(d, _)| d).collect());
        }
        durations.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = durations.iter().map(|(_, n)| n).sum();
        let at = |p: f64| {
            if total == 0 {
                return None;
            }
            let rank = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            durations.iter().find_map(|(d, n)| {
                seen += n;
                (seen >= rank).then(|| round3(*d))
            })
        };
        Latency {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
        }
    }

    /// The percentiles of `durations` (any order).
    pub fn of(mut durations: Vec<f64>) -> Latency {
        durations.sort_by(f64::total_cmp);
        let at = |p| percentile(&durations, p).map(round3);
        Latency {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// One row of the `calls` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// `plugin` or `chat`.
    pub source: String,
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Plugin, or serving provider.
    pub plugin_id: Option<String>,
    /// Plugin kind (plugin calls).
    pub plugin_kind: Option<String>,
    /// Tool name, `chat`, ...
    pub operation: String,
    /// Chat route.
    pub route: Option<String>,
    /// `ok`, `error`, `timeout`, `trap`, `memory` or `failed`.
    pub outcome: String,
    /// Answered from the response cache.
    pub cached: bool,
    /// Duration (for a rolled-up row, the mean of its calls).
    pub duration_ms: f64,
    /// Tokens (chat; for a rolled-up row, the sum over its calls).
    pub tokens: Option<i64>,
    /// How many calls the row stands for: 1, or more for a row of `calls_rollup`.
    pub count: u64,
}

impl CallRow {
    fn is_chat(&self) -> bool {
        self.source == "chat"
    }

    fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// Counted in `totals`: chats, and plugin calls other than the providers' own.
    fn is_request(&self) -> bool {
        self.is_chat() || self.plugin_kind.as_deref() != Some(AI_PROVIDER)
    }

    /// Tokens a provider spent (a cached answer spent none).
    fn spent_tokens(&self) -> i64 {
        if self.cached {
            0
        } else {
            self.tokens.unwrap_or(0)
        }
    }
}

/// One row of the `jobs` table.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Its state now.
    pub status: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Wall time of its successful run.
    pub processing_ms: Option<i64>,
}

/// The `data` of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Analytics {
    /// The period.
    pub period: PeriodView,
    /// Requests (chats and non-provider plugin calls), failures, tokens, latency.
    pub totals: Totals,
    /// Chat calls.
    pub chat: ChatFigures,
    /// Plugin calls.
    pub plugins: PluginFigures,
    /// Jobs created in the period.
    pub jobs: JobFigures,
    /// Every bucket of the period, oldest first.
    pub timeline: Vec<Bucket>,
}

/// `period`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    /// RFC 3339, inclusive.
    pub start: String,
    /// RFC 3339, exclusive.
    pub end: String,
    /// `hour` or `day`.
    pub granularity: Granularity,
}

/// `totals`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Chat calls plus plugin calls other than AI providers'.
    pub requests: u64,
    /// Those that failed.
    pub failures: u64,
    /// failures / requests (0 when none).
    pub failure_rate: f64,
    /// Tokens the providers spent.
    pub tokens: i64,
    /// Latency of the requests.
    pub latency_ms: Latency,
}

/// `chat`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChatFigures {
    /// Chat calls (cached answers included).
    pub calls: u64,
    /// Calls no provider answered.
    pub failures: u64,
    /// Calls answered from the response cache.
    pub cached: u64,
    /// Tokens the providers spent.
    pub tokens: i64,
    /// By the provider that answered (or failed last); cached answers excluded.
    pub by_provider: BTreeMap<String, ProviderFigures>,
    /// By route.
    pub by_route: BTreeMap<String, RouteFigures>,
}

/// One provider in `chat.by_provider`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProviderFigures {
    /// Calls it answered or failed last.
    pub calls: u64,
    /// Of which failed.
    pub failures: u64,
    /// Tokens it spent.
    pub tokens: i64,
    /// Latency, failovers included.
    pub latency_ms: Latency,
}

/// One route in `chat.by_route`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RouteFigures {
    /// Calls.
    pub calls: u64,
    /// Of which failed.
    pub failures: u64,
    /// Of which cached.
    pub cached: u64,
    /// Tokens spent.
    pub tokens: i64,
    /// Latency.
    pub latency_ms: Latency,
}

/// `plugins`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PluginFigures {
    /// Plugin calls of every kind.
    pub calls: u64,
    /// Of which failed in any way.
    pub errors: u64,
    /// By plugin.
    pub by_plugin: BTreeMap<String, OnePlugin>,
}

/// One plugin in `plugins.by_plugin`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OnePlugin {
    /// Its kind.
    pub kind: String,
    /// Calls.
    pub calls: u64,
    /// Failed in any way.
    pub errors: u64,
    /// Stopped at the time cap.
    pub timeouts: u64,
    /// Trapped or hit the memory cap.
    pub crashes: u64,
    /// Calls by operation (tool name, `chat`, `probe`, ...).
    pub operations: BTreeMap<String, u64>,
    /// Latency.
    pub latency_ms: Latency,
}

/// `jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobFigures {
    /// Jobs created in the period.
    pub created: u64,
    /// Those jobs by their state now.
    pub by_status: BTreeMap<String, u64>,
    /// Mean wall time of their successful runs, in seconds (`null`: none finished).
    pub avg_processing_time: Option<f64>,
}

/// One entry of `timeline`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Its start (RFC 3339).
    pub bucket: String,
    /// Chat calls.
    pub chat_calls: u64,
    /// Plugin calls of every kind.
    pub plugin_calls: u64,
    /// Jobs created.
    pub jobs_created: u64,
    /// Failed requests (as in `totals`).
    pub failures: u64,
    /// Tokens spent.
    pub tokens: i64,
}

/// The figures of `calls` and `jobs` over `period` (rows outside it are ignored).
pub fn compute(period: &Period, calls: &[CallRow], jobs: &[JobRow]) -> Analytics {
    let calls: Vec<&CallRow> = calls.iter().filter(|c| period.contains(c.at)).collect();
    let jobs: Vec<&JobRow> = jobs
        .iter()
        .filter(|j| period.contains(j.created_at))
        .collect();

    let mut timeline: Vec<Bucket> = period
        .buckets()
        .into_iter()
        .map(|start| Bucket {
            bucket: start.to_rfc3339_opts(SecondsFormat::Secs, true),
            chat_calls: 0,
            plugin_calls: 0,
            jobs_created: 0,
            failures: 0,
            tokens: 0,
        })
        .collect();

    let requests: Vec<&&CallRow> = calls.iter().filter(|c| c.is_request()).collect();
    let failures = weight(requests.iter().filter(|c| !c.ok()));
    let request_count = weight(requests.iter());
    let totals = Totals {
        requests: request_count,
        failures,
        failure_rate: if request_count == 0 {
            0.0
        } else {
            (failures as f64 / request_count as f64 * 10_000.0).round() / 10_000.0
        },
        tokens: calls.iter().map(|c| c.spent_tokens()).sum(),
        latency_ms: Latency::weighted(requests.iter().map(|c| (c.duration_ms, c.count)).collect()),
    };

    let chats: Vec<&&CallRow> = calls.iter().filter(|c| c.is_chat()).collect();
    let mut provider_rows: BTreeMap<String, Vec<&CallRow>> = BTreeMap::new();
    let mut route_rows: BTreeMap<String, Vec<&CallRow>> = BTreeMap::new();
    for call in &chats {
        if let Some(provider) = call.plugin_id.as_ref().filter(|_| !call.cached) {
            provider_rows
                .entry(provider.clone())
                .or_default()
                .push(call);
        }
        let route = call.route.clone().unwrap_or_default();
        route_rows.entry(route).or_default().push(call);
    }
    let chat = ChatFigures {
        calls: weight(chats.iter()),
        failures: weight(chats.iter().filter(|c| !c.ok())),
        cached: weight(chats.iter().filter(|c| c.cached)),
        tokens: chats.iter().map(|c| c.spent_tokens()).sum(),
        by_provider: provider_rows
            .into_iter()
            .map(|(id, rows)| {
                let figures = ProviderFigures {
                    calls: weight(rows.iter()),
                    failures: weight(rows.iter().filter(|c| !c.ok())),
                    tokens: rows.iter().map(|c| c.spent_tokens()).sum(),
                    latency_ms: Latency::weighted(
                        rows.iter().map(|c| (c.duration_ms, c.count)).collect(),
                    ),
                };
                (id, figures)
            })
            .collect(),
        by_route: route_rows
            .into_iter()
            .map(|(route, rows)| {
                let figures = RouteFigures {
                    calls: weight(rows.iter()),
                    failures: weight(rows.iter().filter(|c| !c.ok())),
                    cached: weight(rows.iter().filter(|c| c.cached)),
                    tokens: rows.iter().map(|c| c.spent_tokens()).sum(),
                    latency_ms: Latency::weighted(
                        rows.iter().map(|c| (c.duration_ms, c.count)).collect(),
                    ),
                };
                (route, figures)
            })
            .collect(),
    };

    let plugin_calls: Vec<&&CallRow> = calls.iter().filter(|c| !c.is_chat()).collect();
    let mut by_plugin_rows: BTreeMap<String, Vec<&CallRow>> = BTreeMap::new();
    for call in &plugin_calls {
        let id = call.plugin_id.clone().unwrap_or_default();
        by_plugin_rows.entry(id).or_default().push(call);
    }
    let plugins = PluginFigures {
        calls: weight(plugin_calls.iter()),
        errors: weight(plugin_calls.iter().filter(|c| !c.ok())),
        by_plugin: by_plugin_rows
            .into_iter()
            .map(|(id, rows)| {
                let mut operations = BTreeMap::new();
                for row in &rows {
                    *operations.entry(row.operation.clone()).or_insert(0) += row.count;
                }
                let figures = OnePlugin {
                    kind: rows
                        .first()
                        .and_then(|r| r.plugin_kind.clone())
                        .unwrap_or_default(),
                    calls: weight(rows.iter()),
                    errors: weight(rows.iter().filter(|c| !c.ok())),
                    timeouts: weight(rows.iter().filter(|c| c.outcome == "timeout")),
                    crashes: weight(
                        rows.iter()
                            .filter(|c| c.outcome == "trap" || c.outcome == "memory"),
                    ),
                    operations,
                    latency_ms: Latency::weighted(
                        rows.iter().map(|c| (c.duration_ms, c.count)).collect(),
                    ),
                };
                (id, figures)
            })
            .collect(),
    };

    let mut by_status: BTreeMap<String, u64> = crate::metrics::JOB_STATES
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for job in &jobs {
        *by_status.entry(job.status.clone()).or_insert(0) += 1;
    }
    let processing: Vec<i64> = jobs.iter().filter_map(|j| j.processing_ms).collect();
    let jobs_figures = JobFigures {
        created: jobs.len() as u64,
        by_status,
        avg_processing_time: (!processing.is_empty()).then(|| {
            round3(processing.iter().sum::<i64>() as f64 / processing.len() as f64 / 1000.0)
        }),
    };

    for call in &calls {
        let Some(bucket) = period.bucket_of(call.at).and_then(|i| timeline.get_mut(i)) else {
            continue;
        };
        if call.is_chat() {
            bucket.chat_calls += call.count;
        } else {
            bucket.plugin_calls += call.count;
        }
        if call.is_request() && !call.ok() {
            bucket.failures += call.count;
        }
        bucket.tokens += call.spent_tokens();
    }
    for job in &jobs {
        if let Some(bucket) = period
            .bucket_of(job.created_at)
            .and_then(|i| timeline.get_mut(i))
        {
            bucket.jobs_created += 1;
        }
    }

    Analytics {
        period: PeriodView {
            start: crate::clock::format(period.start),
            end: crate::clock::format(period.end),
            granularity: period.granularity,
        },
        totals,
        chat,
        plugins,
        jobs: jobs_figures,
        timeline,
    }
}

/// A call row, or a reference to one, by how many calls it stands for.
trait Weighted {
    fn weight(&self) -> u64;
}

impl Weighted for CallRow {
    fn weight(&self) -> u64 {
        self.count
    }
}

impl<T: Weighted + ?Sized> Weighted for &T {
    fn weight(&self) -> u64 {
        (**self).weight()
    }
}

/// How many calls `rows` stand for.
fn weight<W: Weighted>(rows: impl Iterator<Item = W>) -> u64 {
    rows.map(|r| r.weight()).sum()
}

/// Text bounds for a range query on RFC 3339 UTC columns that cover `period` whatever
/// the stored fraction of a second: `YYYY-MM-DDTHH:MM:SS` of the start and of a second
/// after the end (a prefix sorts before every time in its second).
fn text_bounds(period: &Period) -> (String, String) {
    let format = "%Y-%m-%dT%H:%M:%S";
    (
        period.start.format(format).to_string(),
        (period.end + Duration::seconds(1))
            .format(format)
            .to_string(),
    )
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The calls recorded over `period`.
pub async fn load_calls(db: &crate::db::Db, period: &Period) -> Result<Vec<CallRow>, sqlx::Error> {
    let (from, to) = text_bounds(period);
    let rows = sqlx::query(
        "SELECT source, at, plugin_id, plugin_kind, operation, route, outcome, cached, \
         duration_ms, tokens FROM calls WHERE at >= $1 AND at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    let mut calls = Vec::with_capacity(rows.len());
    for row in rows {
        let at: String = row.try_get("at")?;
        let Some(at) = parse_time(&at) else { continue };
        calls.push(CallRow {
            source: row.try_get("source")?,
            at,
            plugin_id: row.try_get("plugin_id")?,
            plugin_kind: row.try_get("plugin_kind")?,
            operation: row.try_get("operation")?,
            route: row.try_get("route")?,
            outcome: row.try_get("outcome")?,
            cached: row.try_get::<i64, _>("cached")? != 0,
            duration_ms: row.try_get("duration_ms")?,
            tokens: row.try_get("tokens")?,
            count: 1,
        });
    }
    load_rollup(db, period, &mut calls).await?;
    Ok(calls)
}

/// Adds the rolled-up hours of `period` (rows of `calls` pruned by the retention, see
/// [`crate::telemetry::retention`]) to `calls`, one row per group standing for its calls.
async fn load_rollup(
    db: &crate::db::Db,
    period: &Period,
    calls: &mut Vec<CallRow>,
) -> Result<(), sqlx::Error> {
    let (from, to) = text_bounds(period);
    let rows = sqlx::query(
        "SELECT hour, source, plugin_id, plugin_kind, operation, route, outcome, cached, \
         calls, duration_ms_sum, tokens FROM calls_rollup WHERE hour >= $1 AND hour < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    for row in rows {
        let hour: String = row.try_get("hour")?;
        let Some(at) = parse_time(&hour) else {
            continue;
        };
        let count = u64::try_from(row.try_get::<i64, _>("calls")?).unwrap_or(0);
        if count == 0 {
            continue;
        }
        let sum: f64 = row.try_get("duration_ms_sum")?;
        calls.push(CallRow {
            source: row.try_get("source")?,
            at,
            plugin_id: row.try_get("plugin_id")?,
            plugin_kind: row.try_get("plugin_kind")?,
            operation: row.try_get("operation")?,
            route: row.try_get("route")?,
            outcome: row.try_get("outcome")?,
            cached: row.try_get::<i64, _>("cached")? != 0,
            duration_ms: sum / count as f64,
            tokens: row.try_get("tokens")?,
            count,
        });
    }
    Ok(())
}

/// The jobs created over `period`.
pub async fn load_jobs(db: &crate::db::Db, period: &Period) -> Result<Vec<JobRow>, sqlx::Error> {
    let (from, to) = text_bounds(period);
    let rows = sqlx::query(
        "SELECT status, created_at, processing_ms FROM jobs \
         WHERE created_at >= $1 AND created_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let created_at: String = row.try_get("created_at")?;
        let Some(created_at) = parse_time(&created_at) else {
            continue;
        };
        jobs.push(JobRow {
            status: row.try_get("status")?,
            created_at,
            processing_ms: row.try_get("processing_ms")?,
        });
    }
    Ok(jobs)
}

/// `GET /api/analytics`.
#[utoipa::path(
    get, path = "/api/analytics", tag = "analytics",
    summary = "Chat calls, plugin calls and jobs over a period",
    description = "Chat calls, plugin calls and jobs over a period: `?start_date=&end_date=` (RFC 3339 or YYYY-MM-DD; default the last 7 days), `?granularity=hour|day` (default day); totals, latency p50/p95/p99, by provider, route and plugin, and a timeline with every bucket",
    params(
        ("start_date" = Option<String>, Query, description = "Start of the period: RFC 3339 or YYYY-MM-DD (default 7 days ago)"),
        ("end_date" = Option<String>, Query, description = "End of the period: RFC 3339 or YYYY-MM-DD (default now)"),
        ("granularity" = Option<String>, Query, description = "Timeline buckets: hour or day (default day)"),
    ),
    responses(
        (status = 200, description = "Totals, latencies, by provider, route and plugin, and a timeline", body = crate::error::EnvelopeData<Analytics>),
        (status = 400, description = "A bad date or granularity, or a period with too many buckets", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn analytics(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> EnvelopeResult<Analytics> {
    let Query(query) = query.map_err(|e| EnvelopeError::bad_request(e.body_text()))?;
    let period = Period::parse(&query, Utc::now()).map_err(EnvelopeError::bad_request)?;
    // What was recorded before this request is in the table before it is read.
    state.calls.flush().await;
    let calls = load_calls(&state.db, &period).await?;
    let jobs = load_jobs(&state.db, &period).await?;
    Ok(Envelope(compute(&period, &calls, &jobs)))
}

#[cfg(test)]
mod tests;
