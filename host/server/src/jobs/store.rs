//! The `jobs` table (migration 0005), which is also the job queue. Every status change is
//! one conditional `UPDATE` (`... WHERE status = ...`), so two actors racing on a job (a
//! worker finishing it and a client cancelling it, two workers claiming it) cannot both
//! win: the loser sees no row changed.
//!
//! A running job has an owner (the node id of the server running it) and a lease
//! (`lease_until`, migration 0014) that the owner renews ([`renew`]) while the run lasts.
//! Only a job whose lease has run out (or, at a node's start, one that node itself owned
//! in an earlier life) is taken back ([`reclaim`]), so nodes sharing a database never run
//! each other's live jobs.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Filter, Job, NewJob, Status};
use crate::db::{Db, Result};

const COLUMNS: &str = "job_id, status, prompt, route, document_id, channels, results, error, \
     attempts, provider, model, tokens_used, processing_ms, created_at, started_at, \
     completed_at, updated_at, sampling";

/// What a successful run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The `results` object.
    pub results: Value,
    /// The provider that answered last.
    pub provider: String,
    /// The model that answered last.
    pub model: String,
    /// Tokens of every call.
    pub tokens_used: i64,
    /// Wall time of the run.
    pub processing_ms: i64,
}

/// Stores a new `pending` job.
pub async fn insert(db: &Db, job_id: &str, new: &NewJob, now: &str) -> Result<()> {
    let channels = serde_json::to_string(&new.channels).unwrap_or_else(|_| "[]".into());
    let sampling = (!new.sampling.is_unset())
        .then(|| serde_json::to_string(&new.sampling).ok())
        .flatten();
    sqlx::query(
        "INSERT INTO jobs (job_id, status, prompt, route, document_id, channels, attempts, \
         created_at, updated_at, queued_at, sampling) \
         VALUES ($1, 'pending', $2, $3, $4, $5, 0, $6, $6, $6, $7)",
    )
    .bind(job_id)
    .bind(&new.prompt)
    .bind(&new.route)
    .bind(new.document_id.as_deref())
    .bind(channels)
    .bind(now)
    .bind(sampling)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Job `job_id`, if it exists.
pub async fn get(db: &Db, job_id: &str) -> Result<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE job_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(job_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(job).transpose()?)
}

/// The jobs `filter` selects, newest first.
pub async fn list(db: &Db, filter: Filter) -> Result<Vec<Job>> {
    let rows = match filter.status {
        Some(status) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM jobs WHERE status = $1 \
                 ORDER BY created_at DESC, job_id DESC LIMIT $2 OFFSET $3"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status.as_str())
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(db.pool())
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM jobs \
                 ORDER BY created_at DESC, job_id DESC LIMIT $1 OFFSET $2"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(db.pool())
                .await?
        }
    };
    Ok(rows.iter().map(job).collect::<Result<_, _>>()?)
}

/// How many jobs there are (of `status`, when given).
pub async fn count(db: &Db, status: Option<Status>) -> Result<i64> {
    let row = match status {
        Some(status) => {
            sqlx::query("SELECT COUNT(*) FROM jobs WHERE status = $1")
                .bind(status.as_str())
                .fetch_one(db.pool())
                .await?
        }
        None => {
            sqlx::query("SELECT COUNT(*) FROM jobs")
                .fetch_one(db.pool())
                .await?
        }
    };
    Ok(row.try_get(0)?)
}

/// Takes the job first in the queue (the oldest `pending` one): it becomes `in_progress`
/// with one more attempt, owned by `owner` until `lease_until` (renewed by [`renew`]).
/// `None` when nothing is pending.
pub async fn claim_next(db: &Db, now: &str, owner: &str, lease_until: &str) -> Result<Option<Job>> {
    loop {
        let next = sqlx::query(
            "SELECT job_id FROM jobs WHERE status = 'pending' \
             ORDER BY COALESCE(queued_at, created_at), job_id LIMIT 1",
        )
        .fetch_optional(db.pool())
        .await?;
        let Some(next) = next else {
            return Ok(None);
        };
        let job_id: String = next.try_get(0)?;
        let claimed = sqlx::query(
            "UPDATE jobs SET status = 'in_progress', attempts = attempts + 1, started_at = $2, \
             completed_at = NULL, error = NULL, updated_at = $2, owner = $3, lease_until = $4 \
             WHERE job_id = $1 AND status = 'pending'",
        )
        .bind(&job_id)
        .bind(now)
        .bind(owner)
        .bind(lease_until)
        .execute(db.pool())
        .await?
        .rows_affected();
        // Another worker (or a cancel) got there first: look again.
        if claimed == 1 {
            return get(db, &job_id).await;
        }
    }
}

/// Marks run `attempt` of `job_id` completed; false when that run is no longer current
/// (cancelled meanwhile).
pub async fn complete(
    db: &Db,
    job_id: &str,
    attempt: i64,
    outcome: &Outcome,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'completed', results = $3, provider = $4, model = $5, \
         tokens_used = $6, processing_ms = $7, error = NULL, completed_at = $8, updated_at = $8 \
         WHERE job_id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(job_id)
    .bind(attempt)
    .bind(outcome.results.to_string())
    .bind(&outcome.provider)
    .bind(&outcome.model)
    .bind(outcome.tokens_used)
    .bind(outcome.processing_ms)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks run `attempt` of `job_id` failed with `error`; false when that run is no longer
/// current.
pub async fn fail(db: &Db, job_id: &str, attempt: i64, error: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = $3, completed_at = $4, updated_at = $4 \
         WHERE job_id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(job_id)
    .bind(attempt)
    .bind(error)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels `job_id` if it is `pending` or `in_progress`; false otherwise.
pub async fn cancel(db: &Db, job_id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'cancelled', error = 'cancelled by a client', \
         completed_at = $2, updated_at = $2 \
         WHERE job_id = $1 AND status IN ('pending', 'in_progress')",
    )
    .bind(job_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts `job_id` back in the queue (last) if it is `failed` or `cancelled`, clearing its
/// outcome; false otherwise. Its attempts are kept.
pub async fn retry(db: &Db, job_id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'pending', results = NULL, error = NULL, provider = NULL, \
         model = NULL, tokens_used = NULL, processing_ms = NULL, started_at = NULL, \
         completed_at = NULL, updated_at = $2, queued_at = $2 \
         WHERE job_id = $1 AND status IN ('failed', 'cancelled')",
    )
    .bind(job_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Extends `owner`'s lease on run `attempt` of `job_id` to `lease_until`; false when that
/// run is no longer this owner's to run (cancelled, finished, or taken back after its lease
/// ran out), so the caller stops it.
pub async fn renew(
    db: &Db,
    job_id: &str,
    attempt: i64,
    owner: &str,
    lease_until: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = $4 \
         WHERE job_id = $1 AND attempts = $2 AND owner = $3 AND status = 'in_progress'",
    )
    .bind(job_id)
    .bind(attempt)
    .bind(owner)
    .bind(lease_until)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The `in_progress` jobs nobody runs any more: whose lease ran out before `now`, and,
/// when `own` is given, those `own` owned (a node at its start takes back what its earlier
/// life left). Those with fewer than `max_attempts` runs go back to `pending` (keeping
/// their place in the queue), the others are `failed`. Returns the ids of both, oldest
/// first. Each change re-checks the lease, so a renewal in between wins.
pub async fn reclaim(
    db: &Db,
    max_attempts: i64,
    now: &str,
    own: Option<&str>,
) -> Result<(Vec<String>, Vec<String>)> {
    // The same test as the SELECT below, with `now` as $2 and `own` as $3.
    const ABANDONED: &str = "status = 'in_progress' \
         AND (lease_until IS NULL OR lease_until < $2 OR owner = $3)";
    let rows = sqlx::query(
        "SELECT job_id, attempts FROM jobs WHERE status = 'in_progress' \
         AND (lease_until IS NULL OR lease_until < $1 OR owner = $2) \
         ORDER BY COALESCE(queued_at, created_at), job_id",
    )
    .bind(now)
    .bind(own)
    .fetch_all(db.pool())
    .await?;
    let (mut requeued, mut failed) = (Vec::new(), Vec::new());
    for row in rows {
        let job_id: String = row.try_get(0)?;
        let attempts: i64 = row.try_get(1)?;
        let done = if attempts < max_attempts {
            let sql = format!(
                "UPDATE jobs SET status = 'pending', owner = NULL, lease_until = NULL, \
                 updated_at = $2 WHERE job_id = $1 AND attempts = $4 AND {ABANDONED}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&job_id)
                .bind(now)
                .bind(own)
                .bind(attempts)
                .execute(db.pool())
                .await?
        } else {
            let reason = format!(
                "the server running this job restarted, stopped or lost touch with the \
                 database, and the job had already started {attempts} of its {max_attempts} allowed runs"
            );
            let sql = format!(
                "UPDATE jobs SET status = 'failed', error = $5, owner = NULL, \
                 lease_until = NULL, completed_at = $2, updated_at = $2 \
                 WHERE job_id = $1 AND attempts = $4 AND {ABANDONED}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&job_id)
                .bind(now)
                .bind(own)
                .bind(attempts)
                .bind(reason)
                .execute(db.pool())
                .await?
        };
        if done.rows_affected() == 1 {
            if attempts < max_attempts {
                requeued.push(job_id);
            } else {
                failed.push(job_id);
            }
        }
    }
    Ok((requeued, failed))
}

fn job(row: &AnyRow) -> Result<Job, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status = Status::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "status".into(),
        source: format!("unknown job status {status:?}").into(),
    })?;
    let channels: String = row.try_get("channels")?;
    let results: Option<String> = row.try_get("results")?;
    let processing_ms: Option<i64> = row.try_get("processing_ms")?;
    let sampling: Option<String> = row.try_get("sampling")?;
    Ok(Job {
        job_id: row.try_get("job_id")?,
        document_id: row.try_get("document_id")?,
        status,
        // Written by this module as a JSON array; anything else reads as none.
        channels: serde_json::from_str(&channels).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        updated_at: row.try_get("updated_at")?,
        results: results.and_then(|text| serde_json::from_str(&text).ok()),
        error: row.try_get("error")?,
        prompt: row.try_get("prompt")?,
        route: row.try_get("route")?,
        attempts: row.try_get("attempts")?,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        tokens_used: row.try_get("tokens_used")?,
        processing_time: processing_ms.map(|ms| ms as f64 / 1000.0),
        // Written by this module as a JSON object; anything else reads as unset.
        sampling: sampling
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
    })
}
