//! Retention of the `calls` table: rows older than `[telemetry] retention_days`, and the
//! oldest beyond `[telemetry] max_rows`, are summed per hour and group into
//! `calls_rollup` and then deleted, in one transaction, by a background task every
//! `prune_interval_secs`. `/api/analytics` reads both tables, so its figures over old
//! periods stay right (latency percentiles there come from each group's mean).

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::config::TelemetryConfig;
use crate::db::Db;

/// What one pruning did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows of `calls` rolled up and deleted.
    pub rows: u64,
}

/// Starts the pruning task on the current tokio runtime: the first run one interval
/// after the start (so it never slows a start), then every interval.
pub fn spawn(db: Db, config: TelemetryConfig) {
    if config.retention_days == 0 && config.max_rows == 0 {
        return;
    }
    let every = std::time::Duration::from_secs(config.prune_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            match prune(&db, config, Utc::now()).await {
                Ok(pruned) if pruned.rows > 0 => {
                    tracing::info!(rows = pruned.rows, "old call records rolled up and pruned");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(cause = %e, "could not prune the call records"),
            }
        }
    });
}

/// The `at` before which rows go: the older of the age limit and the `max_rows`-th
/// newest row's time (`None`: nothing to prune).
async fn cutoff(
    db: &Db,
    config: TelemetryConfig,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    let by_age = (config.retention_days > 0).then(|| {
        let days = i64::try_from(config.retention_days).unwrap_or(i64::MAX / 86_400_000);
        crate::clock::format(now - chrono::Duration::days(days.min(365_000)))
    });
    let by_rows = if config.max_rows > 0 {
        sqlx::query("SELECT at FROM calls ORDER BY at DESC LIMIT 1 OFFSET $1")
            .bind(i64::try_from(config.max_rows).unwrap_or(i64::MAX))
            .fetch_optional(db.pool())
            .await?
            .map(|row| row.try_get::<String, _>("at"))
            .transpose()?
    } else {
        None
    };
    Ok(match (by_age, by_rows) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
}

/// Rolls up and deletes what the limits of `config` exclude at `now`.
pub async fn prune(
    db: &Db,
    config: TelemetryConfig,
    now: DateTime<Utc>,
) -> Result<Pruned, sqlx::Error> {
    let Some(cutoff) = cutoff(db, config, now).await? else {
        return Ok(Pruned::default());
    };
    let mut tx = db.pool().begin().await?;
    if db.kind() == "postgres" {
        // The roll-up and the delete see the same rows (SQLite's writer lock does this).
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO calls_rollup (hour, source, plugin_id, plugin_kind, operation, route, \
         model, outcome, error_code, cached, calls, duration_ms_sum, duration_ms_max, tokens) \
         SELECT substr(at, 1, 13) || ':00:00Z', source, plugin_id, plugin_kind, operation, \
         route, model, outcome, error_code, cached, COUNT(*), SUM(duration_ms), \
         MAX(duration_ms), SUM(tokens) FROM calls WHERE at < $1 \
         GROUP BY substr(at, 1, 13), source, plugin_id, plugin_kind, operation, route, model, \
         outcome, error_code, cached",
    )
    .bind(&cutoff)
    .execute(&mut *tx)
    .await?;
    let deleted = sqlx::query("DELETE FROM calls WHERE at < $1")
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Pruned { rows: deleted })
}
