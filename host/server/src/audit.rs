//! The audit of denied access: every time the host refuses a plugin something (a file, a
//! host, a secret, an environment variable, a cap, a budget, a quota) it is recorded here
//! with the plugin's id, what was denied and when. Admins read it through
//! `GET /api/plugins/{id}/audit`; `/metrics` counts it as
//! `sanctuary_plugin_denials_total{plugin, kind}`.
//!
//! Recording never slows or fails the refused call: [`Audit::deny`] counts the denial and
//! queues it for one background writer (bounded; a full queue drops the row and counts the
//! drop). A plugin that provokes denials in a loop cannot flood the table either: each
//! plugin keeps at most [`ROWS_PER_MINUTE`] rows a minute, and the next row it writes
//! says how many similar denials were left out in between.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Row;
use tokio::sync::mpsc;
use tracing::warn;

use crate::db::Db;
use crate::metrics::Metrics;

/// Rows one plugin may add to the audit in a minute; further denials are counted and
/// summarised in its next row.
pub const ROWS_PER_MINUTE: u32 = 60;

/// Rows the writer's queue holds before it drops.
const QUEUE: usize = 4096;

/// Rows kept in memory when there is no database (benchmarks, unit tests).
const MEMORY_ROWS: usize = 1000;

/// How long audit rows are kept.
const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);

pub use sanctuary_runtime::audit::{Kind, clip};

impl sanctuary_runtime::audit::Denials for Audit {
    fn deny(&self, plugin: &str, kind: Kind, detail: String) {
        Audit::deny(self, plugin, kind, detail);
    }
}

/// One recorded denial.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The plugin refused.
    pub plugin: String,
    /// `file`, `host`, `secret`, `env`, `cap`, `budget` or `quota`.
    pub kind: String,
    /// What exactly was refused, and how many similar denials were left out before it.
    pub detail: String,
}

/// One page of a plugin's audit, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The plugin.
    pub plugin: String,
    /// Entries on this page.
    pub entries: Vec<Entry>,
    /// Entries in all (for this plugin and kind filter).
    pub total: u64,
    /// Page size asked for.
    pub limit: u32,
    /// Entries skipped.
    pub offset: u64,
}

/// Per-plugin write allowance for the current minute.
struct Window {
    started: Instant,
    written: u32,
    suppressed: u64,
}

/// The audit log. Cheap to share (`Arc`).
pub struct Audit {
    tx: Option<mpsc::Sender<Entry>>,
    db: Option<Db>,
    memory: Mutex<VecDeque<Entry>>,
    windows: Mutex<HashMap<String, Window>>,
    metrics: OnceLock<Arc<Metrics>>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("db", &self.db.is_some())
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Audit {
    /// An audit written to `db` by a background task (kept in memory without one, or
    /// when no tokio runtime is running).
    pub fn new(db: Option<Db>) -> Audit {
        let tx = match (&db, tokio::runtime::Handle::try_current()) {
            (Some(db), Ok(handle)) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                handle.spawn(write_loop(db.clone(), rx));
                Some(tx)
            }
            _ => None,
        };
        Audit {
            tx,
            db,
            memory: Mutex::new(VecDeque::new()),
            windows: Mutex::new(HashMap::new()),
            metrics: OnceLock::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Counts later denials in `metrics` too (the first one set stays).
    pub fn set_metrics(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Records that `plugin` was refused `detail` (counted always, written within the
    /// plugin's allowance of [`ROWS_PER_MINUTE`]).
    pub fn deny(&self, plugin: &str, kind: Kind, detail: impl Into<String>) {
        if let Some(metrics) = self.metrics.get() {
            metrics.plugin_denial(plugin, kind.as_str());
        }
        let suppressed = {
            let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
            let window = windows.entry(plugin.to_string()).or_insert(Window {
                started: Instant::now(),
                written: 0,
                suppressed: 0,
            });
            if window.started.elapsed() >= Duration::from_secs(60) {
                window.started = Instant::now();
                window.written = 0;
            }
            if window.written >= ROWS_PER_MINUTE {
                window.suppressed += 1;
                return;
            }
            window.written += 1;
            std::mem::take(&mut window.suppressed)
        };
        let mut detail = detail.into();
        clip(&mut detail, 1024);
        if suppressed > 0 {
            detail.push_str(&format!(
                " (after {suppressed} similar denials not recorded)"
            ));
        }
        let entry = Entry {
            at: crate::clock::timestamp(),
            plugin: plugin.to_string(),
            kind: kind.as_str().to_string(),
            detail,
        };
        match &self.tx {
            Some(tx) => {
                if tx.try_send(entry).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
                if memory.len() == MEMORY_ROWS {
                    memory.pop_front();
                }
                memory.push_back(entry);
            }
        }
    }

    /// Denials recorded but dropped because the writer's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// One page of `plugin`'s audit (optionally of one kind), newest first.
    pub async fn page(
        &self,
        plugin: &str,
        kind: Option<Kind>,
        limit: u32,
        offset: u64,
    ) -> Result<Page, sqlx::Error> {
        let kind = kind.map(Kind::as_str);
        let (entries, total) = match &self.db {
            Some(db) => {
                let filter = "plugin_id = $1 AND ($2 = '' OR kind = $2)";
                let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM plugin_audit WHERE {filter}"
                )))
                .bind(plugin)
                .bind(kind.unwrap_or(""))
                .fetch_one(db.pool())
                .await?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT at, plugin_id, kind, detail FROM plugin_audit WHERE {filter} \
                     ORDER BY at DESC, seq DESC LIMIT $3 OFFSET $4"
                )))
                .bind(plugin)
                .bind(kind.unwrap_or(""))
                .bind(i64::from(limit))
                .bind(offset as i64)
                .fetch_all(db.pool())
                .await?;
                let entries = rows
                    .iter()
                    .map(|row| {
                        Ok(Entry {
                            at: row.try_get(0)?,
                            plugin: row.try_get(1)?,
                            kind: row.try_get(2)?,
                            detail: row.try_get(3)?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                (entries, total.max(0) as u64)
            }
            None => {
                let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
                let matching: Vec<&Entry> = memory
                    .iter()
                    .rev()
                    .filter(|e| e.plugin == plugin && kind.is_none_or(|k| e.kind == k))
                    .collect();
                let total = matching.len() as u64;
                let entries = matching
                    .into_iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                (entries, total)
            }
        };
        Ok(Page {
            plugin: plugin.to_string(),
            entries,
            total,
            limit,
            offset,
        })
    }

    /// Removes `plugin`'s audit (when it is uninstalled without keeping its data).
    pub async fn forget(&self, plugin: &str) -> Result<(), sqlx::Error> {
        if let Some(db) = &self.db {
            sqlx::query("DELETE FROM plugin_audit WHERE plugin_id = $1")
                .bind(plugin)
                .execute(db.pool())
                .await?;
        }
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|e| e.plugin != plugin);
        Ok(())
    }
}

/// Writes queued entries in batches; once an hour removes rows past [`RETENTION`].
async fn write_loop(db: Db, mut rx: mpsc::Receiver<Entry>) {
    let mut seq: i64 = chrono::Utc::now().timestamp_micros();
    let mut last_prune: Option<Instant> = None;
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        if let Err(e) = write(&db, &batch, &mut seq).await {
            warn!(cause = %e, rows = batch.len(), "could not write the plugin audit");
        }
        batch.clear();
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(Instant::now());
            let cutoff = crate::clock::format(chrono::Utc::now() - RETENTION);
            if let Err(e) = sqlx::query("DELETE FROM plugin_audit WHERE at < $1")
                .bind(cutoff)
                .execute(db.pool())
                .await
            {
                warn!(cause = %e, "could not prune the plugin audit");
            }
        }
    }
}

async fn write(db: &Db, batch: &[Entry], seq: &mut i64) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    for entry in batch {
        *seq += 1;
        sqlx::query(
            "INSERT INTO plugin_audit (seq, at, plugin_id, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(*seq)
        .bind(&entry.at)
        .bind(&entry.plugin)
        .bind(&entry.kind)
        .bind(&entry.detail)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_replaces_control_characters_and_cuts_long_text() {
        let mut text = "a\nforged line\r\u{1b}[31m".to_string();
        clip(&mut text, 1024);
        assert!(!text.chars().any(char::is_control), "{text:?}");
        let mut long = "é".repeat(1000);
        clip(&mut long, 11);
        assert!(long.len() <= 11 + '…'.len_utf8());
        assert!(long.ends_with('…'));
    }

    #[tokio::test]
    async fn a_plugin_denied_in_a_loop_keeps_its_allowance_and_says_what_was_left_out() {
        let audit = Audit::new(None);
        for i in 0..(ROWS_PER_MINUTE + 25) {
            audit.deny("loop", Kind::Host, format!("attempt {i}"));
        }
        audit.deny("other", Kind::Secret, "SANCTUARY_ADMIN_TOKEN");
        let page = audit.page("loop", None, 1000, 0).await.expect("page");
        assert_eq!(page.total, u64::from(ROWS_PER_MINUTE));
        assert_eq!(
            page.entries[0].detail,
            format!("attempt {}", ROWS_PER_MINUTE - 1)
        );
        let other = audit
            .page("other", Some(Kind::Secret), 10, 0)
            .await
            .expect("page");
        assert_eq!(other.total, 1);
        assert_eq!(other.entries[0].kind, "secret");
        // The window rolls over: the next row says how many were left out.
        audit
            .windows
            .lock()
            .expect("lock")
            .get_mut("loop")
            .expect("window")
            .started -= Duration::from_secs(61);
        audit.deny("loop", Kind::Host, "after the minute");
        let page = audit.page("loop", None, 1, 0).await.expect("page");
        assert_eq!(
            page.entries[0].detail,
            "after the minute (after 25 similar denials not recorded)"
        );
    }

    #[tokio::test]
    async fn denials_are_written_to_the_database_and_paged_newest_first() {
        for test_db in crate::db::testing::all().await {
            let audit = Audit::new(Some(test_db.db()));
            for i in 0..5 {
                audit.deny("p", Kind::Budget, format!("busy {i}"));
            }
            audit.deny("p", Kind::Quota, "kv bytes");
            let mut page = None;
            for _ in 0..200 {
                let p = audit.page("p", None, 2, 1).await.expect("page");
                if p.total == 6 {
                    page = Some(p);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let page = page.expect("all six rows written");
            assert_eq!(page.entries.len(), 2);
            assert_eq!(page.entries[0].detail, "busy 4");
            let quota = audit
                .page("p", Some(Kind::Quota), 10, 0)
                .await
                .expect("page");
            assert_eq!(quota.total, 1);
            audit.forget("p").await.expect("forget");
            assert_eq!(audit.page("p", None, 10, 0).await.expect("page").total, 0);
        }
    }
}
