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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::api::analytics::{Granularity, Period, compute, load_calls};
    use crate::telemetry::{ChatCall, Outcome, PluginCall, Record, write};

    fn plugin(outcome: Outcome, ms: u64) -> PluginCall {
        PluginCall {
            plugin: "time".into(),
            kind: "mcp-server".into(),
            operation: "current_time".into(),
            outcome,
            error_code: (outcome != Outcome::Ok).then_some("timeout"),
            duration: Duration::from_millis(ms),
        }
    }

    fn chat(cached: bool) -> ChatCall {
        ChatCall {
            route: "mama-bear".into(),
            provider: Some("local".into()),
            model: Some("echo".into()),
            ok: true,
            cached,
            error_code: None,
            duration: Duration::from_millis(30),
            tokens: Some(7),
        }
    }

    /// Calls over three weeks before `now`, the same duration within each group so the
    /// roll-up's means equal the calls' own durations.
    fn history(now: DateTime<Utc>) -> Vec<Record> {
        let mut records = Vec::new();
        for day in 0..21 {
            for minute in [5, 35, 95] {
                let at = now - chrono::Duration::days(day) - chrono::Duration::minutes(minute);
                records.push(Record::Plugin(plugin(Outcome::Ok, 10), at));
                records.push(Record::Plugin(plugin(Outcome::Timeout, 500), at));
                records.push(Record::Chat(chat(day % 2 == 0), at));
            }
        }
        records
    }

    async fn count(db: &Db, sql: &'static str) -> i64 {
        sqlx::query(sql)
            .fetch_one(db.pool())
            .await
            .expect("count")
            .get::<i64, _>(0)
    }

    #[tokio::test]
    async fn pruned_calls_are_rolled_up_so_analytics_over_old_periods_keep_every_figure() {
        for test_db in crate::db::testing::all().await {
            let db = test_db.db();
            let now = Utc
                .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
                .single()
                .expect("a date");
            let records = history(now);
            write(&db, &records).await.expect("written");
            let periods = [Granularity::Day, Granularity::Hour].map(|granularity| Period {
                start: now - chrono::Duration::days(22),
                end: now,
                granularity,
            });
            let mut before = Vec::new();
            for period in &periods {
                before.push(compute(
                    period,
                    &load_calls(&db, period).await.expect("read"),
                    &[],
                ));
            }

            let config = TelemetryConfig {
                retention_days: 7,
                max_rows: 0,
                prune_interval_secs: 60,
                ..TelemetryConfig::default()
            };
            let pruned = prune(&db, config, now).await.expect("pruned");
            // Days 0..=6 keep their rows (day 7 at 12:00 minus 5 minutes is older).
            let kept = count(&db, "SELECT COUNT(*) FROM calls").await;
            assert_eq!(
                pruned.rows as i64 + kept,
                records.len() as i64,
                "{}",
                db.kind()
            );
            assert_eq!(kept, 7 * 9, "{}", db.kind());
            assert!(count(&db, "SELECT COUNT(*) FROM calls_rollup").await > 0);
            let oldest: String = sqlx::query("SELECT MIN(at) FROM calls")
                .fetch_one(db.pool())
                .await
                .expect("min")
                .get(0);
            assert!(oldest >= crate::clock::format(now - chrono::Duration::days(7)));

            for (period, before) in periods.iter().zip(&before) {
                let after = compute(period, &load_calls(&db, period).await.expect("read"), &[]);
                assert_eq!(&after, before, "{} {:?}", db.kind(), period.granularity);
            }
            assert_eq!(before[0].plugins.calls, 21 * 3 * 2);
            assert_eq!(before[0].chat.cached, 11 * 3);

            // Pruning again finds nothing new; the figures still hold.
            let again = prune(&db, config, now).await.expect("pruned");
            assert_eq!(again.rows, 0);
            let period = &periods[0];
            let after = compute(period, &load_calls(&db, period).await.expect("read"), &[]);
            assert_eq!(after, before[0]);
        }
    }

    #[tokio::test]
    async fn the_row_limit_keeps_about_the_newest_rows_and_rolls_up_the_rest() {
        for test_db in crate::db::testing::all().await {
            let db = test_db.db();
            let now = Utc
                .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
                .single()
                .expect("a date");
            let records = history(now);
            write(&db, &records).await.expect("written");
            let period = Period {
                start: now - chrono::Duration::days(22),
                end: now,
                granularity: Granularity::Day,
            };
            let before = compute(&period, &load_calls(&db, &period).await.expect("read"), &[]);
            let config = TelemetryConfig {
                retention_days: 0,
                max_rows: 20,
                prune_interval_secs: 60,
                ..TelemetryConfig::default()
            };
            prune(&db, config, now).await.expect("pruned");
            let kept = count(&db, "SELECT COUNT(*) FROM calls").await;
            // Rows share their time three by three: the limit keeps whole instants.
            assert!((20..=23).contains(&kept), "{} kept {kept}", db.kind());
            let after = compute(&period, &load_calls(&db, &period).await.expect("read"), &[]);
            assert_eq!(after, before, "{}", db.kind());
        }
    }

    #[tokio::test]
    async fn without_limits_nothing_is_pruned() {
        let test_db = crate::db::testing::sqlite().await;
        let db = test_db.db();
        let now = Utc::now();
        write(&db, &history(now)).await.expect("written");
        let config = TelemetryConfig {
            retention_days: 0,
            max_rows: 0,
            prune_interval_secs: 60,
            ..TelemetryConfig::default()
        };
        assert_eq!(prune(&db, config, now).await.expect("pruned").rows, 0);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM calls").await, 21 * 9);
    }
}
