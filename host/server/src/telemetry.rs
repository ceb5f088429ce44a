//! Call recording: every plugin call (from the runtime's one exit point,
//! `Runtime::finish`) and every chat call (from the chat crate's failover walk and response cache,
//! through [`ChatObserver`]) becomes a row of the `calls` table, which `/api/analytics` reads.
//!
//! Recording never slows or fails a call: [`Recorder::plugin_call`] and
//! [`Recorder::chat_call`] update the Prometheus counters and put the record on a bounded
//! queue without waiting; a full queue drops the record and counts it. One background task
//! drains the queue and writes what it holds in one transaction per batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Any;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::metrics::Metrics;

pub mod retention;

/// Records the queue holds before new ones are dropped: several seconds of the highest
/// plugin-call rate measured (about 10 k/s), so a slow moment of the database (a WAL
/// checkpoint, the retention pass) is absorbed rather than dropped (8 192 dropped 0.5 % of
/// a million calls in the load bench). Memory is only used while the writer is behind.
pub const QUEUE_CAPACITY: usize = 65_536;
/// Most records written in one transaction.
const BATCH: usize = 4096;
/// How long the writer gathers records before writing a batch that is not full.
const GATHER: Duration = Duration::from_millis(100);
/// How long the writer keeps its connection while no record comes. Writing every batch
/// of a busy spell on one connection keeps the `calls` pages in that connection's page
/// cache only; taking whichever connection the pool offers filled the cache of every
/// connection in turn (about 2 MiB each), which showed as resident memory growing with
/// the number of calls.
const HOLD: Duration = Duration::from_secs(1);

pub use sanctuary_runtime::observe::{Outcome, PluginCall};

/// One chat call on a route (the chat crate reports it through [`ChatObserver`]).
pub use sanctuary_chat::{ChatCall, ChatObserver};

/// A record as queued: what happened and when it finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A plugin call.
    Plugin(PluginCall, DateTime<Utc>),
    /// A chat call.
    Chat(ChatCall, DateTime<Utc>),
}

enum Message {
    Record(Record),
    Flush(oneshot::Sender<()>),
}

/// The handle calls are recorded through (cheap to clone). Dropping every handle stops
/// the writer once it has written what is queued.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Message>,
    /// Whether records are queued for the `calls` table (`[telemetry] record_calls`).
    rows: bool,
    metrics: Arc<Metrics>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    dropped: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
}

/// What the recorder has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RecorderStats {
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records written.
    pub written: u64,
    /// Records lost to a failed write.
    pub failed: u64,
}

impl Recorder {
    /// Starts the writer task on the current tokio runtime, writing to `db`.
    pub fn start(db: Db, metrics: Arc<Metrics>) -> Recorder {
        Recorder::with_capacity(db, metrics, QUEUE_CAPACITY)
    }

    /// [`Recorder::start`] with a queue of `capacity` records.
    pub fn with_capacity(db: Db, metrics: Arc<Metrics>, capacity: usize) -> Recorder {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let counts = Arc::new(Counts::default());
        tokio::spawn(write_loop(db, rx, counts.clone()));
        Recorder {
            tx,
            rows: true,
            metrics,
            counts,
        }
    }

    /// This recorder, counting calls in the metrics only when `rows` is false: nothing
    /// reaches the `calls` table (`[telemetry] record_calls = false`).
    pub fn with_rows(mut self, rows: bool) -> Recorder {
        self.rows = rows;
        self
    }

    /// Records a plugin call (counted in the metrics at once, written later).
    pub fn plugin_call(&self, call: PluginCall) {
        self.metrics.plugin_call(
            &call.plugin,
            &call.kind,
            call.outcome.as_str(),
            call.duration,
        );
        self.enqueue(Record::Plugin(call, Utc::now()));
    }

    /// Records a chat call (counted in the metrics at once, written later).
    pub fn chat_call(&self, call: ChatCall) {
        let outcome = match (call.ok, call.cached) {
            (true, true) => "cached",
            (true, false) => "ok",
            (false, _) => "failed",
        };
        self.metrics.chat_call(
            &call.route,
            call.provider.as_deref().unwrap_or_default(),
            outcome,
        );
        self.enqueue(Record::Chat(call, Utc::now()));
    }

    fn enqueue(&self, record: Record) {
        if !self.rows {
            return;
        }
        if self.tx.try_send(Message::Record(record)).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.record_dropped();
        }
    }

    /// Waits until every record queued before this call is written (or its write failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// What the recorder has done so far.
    pub fn stats(&self) -> RecorderStats {
        RecorderStats {
            dropped: self.counts.dropped.load(Ordering::Relaxed),
            written: self.counts.written.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Message>, counts: Arc<Counts>) {
    let mut messages = Vec::with_capacity(BATCH);
    // One connection serves the batches of a busy spell (see `HOLD`).
    let mut held: Option<PoolConnection<Any>> = None;
    loop {
        let received = if held.is_some() {
            match tokio::time::timeout(HOLD, rx.recv_many(&mut messages, BATCH)).await {
                Ok(n) => n,
                Err(_) => {
                    held = None;
                    rx.recv_many(&mut messages, BATCH).await
                }
            }
        } else {
            rx.recv_many(&mut messages, BATCH).await
        };
        if received == 0 {
            break;
        }
        // Gather for a moment, so a busy server writes a few large transactions rather
        // than one commit per handful of calls; a flush is served at once.
        let deadline = tokio::time::Instant::now() + GATHER;
        while messages.len() < BATCH && !messages.iter().any(|m| matches!(m, Message::Flush(_))) {
            let room = BATCH - messages.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut messages, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut records = Vec::with_capacity(messages.len());
        let mut flushes = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Record(record) => records.push(record),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !records.is_empty() {
            let written = match held.take() {
                Some(conn) => Ok(conn),
                None => db.pool().acquire().await,
            };
            let written = match written {
                Ok(mut conn) => {
                    let result = write_on(&mut conn, db.kind(), &records).await;
                    // A connection whose write failed may be broken: the next batch asks
                    // the pool for one.
                    if result.is_ok() {
                        held = Some(conn);
                    }
                    result
                }
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    counts
                        .written
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    counts
                        .failed
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    tracing::warn!(cause = %e, lost = records.len(), "could not write call records");
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// SQLite: the batch arrives as one JSON array of row arrays, expanded by `json_each`.
const INSERT_SQLITE: &str = "INSERT INTO calls (id, source, at, plugin_id, plugin_kind, \
     operation, route, model, outcome, error_code, cached, duration_ms, tokens) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
     json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), \
     json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'), \
     json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]'), \
     json_extract(value, '$[11]'), json_extract(value, '$[12]') FROM json_each($1)";

/// PostgreSQL: the same JSON, expanded by `jsonb_array_elements`.
const INSERT_POSTGRES: &str = "INSERT INTO calls (id, source, at, plugin_id, plugin_kind, \
     operation, route, model, outcome, error_code, cached, duration_ms, tokens) \
     SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, \
     (r->>10)::BIGINT, (r->>11)::DOUBLE PRECISION, (r->>12)::BIGINT \
     FROM jsonb_array_elements($1::jsonb) AS r";

/// Writes `records` with one statement of one parameter: the batch as a JSON array the
/// database expands into rows (all or none are written). Multi-row statements with 13
/// bound parameters a row cost a fifth of a plugin call's throughput in sqlx-sqlite's
/// parameter lookup; one parameter per batch costs nothing to bind on either database.
pub async fn write(db: &Db, records: &[Record]) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut conn = db.pool().acquire().await?;
    write_on(&mut conn, db.kind(), records).await
}

/// [`write`] on one connection of a database of `kind` (`"sqlite"` or `"postgres"`).
async fn write_on(
    conn: &mut PoolConnection<Any>,
    kind: &str,
    records: &[Record],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let batch = batch_json(records);
    let sql = if kind == "postgres" {
        INSERT_POSTGRES
    } else {
        INSERT_SQLITE
    };
    sqlx::query(sql).bind(batch).execute(&mut **conn).await?;
    Ok(())
}

/// The records as one JSON array of rows in column order, written straight to text (no
/// intermediate `serde_json::Value` per row).
///
/// Row ids are time-ordered (UUID version 7 layout: the record's millisecond, then random
/// bits), so each insert lands at the end of the primary-key index instead of at a random
/// page of it: a random id (version 4) made every insert read and dirty a page of an
/// index that outgrows the page cache, which cost more than the rest of the row. The
/// random part is drawn once per batch and made distinct per row by its position.
fn batch_json(records: &[Record]) -> String {
    let random = *uuid::Uuid::new_v4().as_bytes();
    let mut out = Vec::with_capacity(records.len() * 200 + 2);
    out.push(b'[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let at = match record {
            Record::Plugin(_, at) | Record::Chat(_, at) => *at,
        };
        let id = row_id(at, &random, i as u32);
        let at = crate::clock::format(at);
        // Serializing a tuple of borrowed values cannot fail (no maps with non-string keys).
        let written = match record {
            Record::Plugin(call, _) => serde_json::to_writer(
                &mut out,
                &(
                    id.as_str(),
                    "plugin",
                    at.as_str(),
                    call.plugin.as_str(),
                    call.kind.as_str(),
                    call.operation.as_str(),
                    None::<&str>,
                    None::<&str>,
                    call.outcome.as_str(),
                    call.error_code,
                    0i64,
                    millis(call.duration),
                    None::<i64>,
                ),
            ),
            Record::Chat(call, _) => serde_json::to_writer(
                &mut out,
                &(
                    id.as_str(),
                    "chat",
                    at.as_str(),
                    call.provider.as_deref(),
                    None::<&str>,
                    "chat",
                    call.route.as_str(),
                    call.model.as_deref(),
                    if call.ok { "ok" } else { "failed" },
                    call.error_code,
                    i64::from(call.cached),
                    millis(call.duration),
                    call.tokens.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
                ),
            ),
        };
        debug_assert!(written.is_ok(), "a row serializes");
    }
    out.push(b']');
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

/// The id of the `index`-th row of a batch whose random bytes are `random`: a UUID of
/// version 7 layout for the record's millisecond.
fn row_id(at: DateTime<Utc>, random: &[u8; 16], index: u32) -> String {
    let mut tail = [0u8; 10];
    tail.copy_from_slice(&random[..10]);
    // The last four bytes land in the UUID's random part unchanged: distinct per row.
    for (byte, i) in tail[6..].iter_mut().zip(index.to_be_bytes()) {
        *byte ^= i;
    }
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &tail)
        .into_uuid()
        .to_string()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl sanctuary_runtime::observe::CallObserver for Recorder {
    fn plugin_call(&self, call: PluginCall) {
        Recorder::plugin_call(self, call);
    }
}

/// The chat crate's calls and cache lookups go to the `calls` table and the metrics.
impl ChatObserver for Recorder {
    fn chat_call(&self, call: ChatCall) {
        Recorder::chat_call(self, call);
    }

    fn cache_lookup(&self, route: &str, hit: bool) {
        self.metrics.cache_lookup(route, hit);
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::CallError;
    use sqlx::Row;

    use super::*;

    fn tool_call(outcome: Outcome) -> PluginCall {
        PluginCall {
            plugin: "time".into(),
            kind: "mcp-server".into(),
            operation: "now".into(),
            outcome,
            error_code: (outcome != Outcome::Ok).then_some("timeout"),
            duration: Duration::from_millis(12),
        }
    }

    #[tokio::test]
    async fn a_batch_of_many_rows_is_written_whole_by_one_statement() {
        for db in crate::db::testing::all().await {
            let at = Utc::now();
            let records: Vec<Record> = (0..BATCH * 2 + 7)
                .map(|i| {
                    let outcome = if i % 3 == 0 {
                        Outcome::Timeout
                    } else {
                        Outcome::Ok
                    };
                    Record::Plugin(tool_call(outcome), at)
                })
                .collect();
            write(&db.db(), &records).await.expect("written");
            let count = |sql: &'static str| {
                let pool = db.pool().clone();
                async move {
                    sqlx::query(sql)
                        .fetch_one(&pool)
                        .await
                        .expect("count")
                        .get::<i64, _>(0)
                }
            };
            assert_eq!(
                count("SELECT COUNT(*) FROM calls").await,
                records.len() as i64
            );
            assert_eq!(
                count("SELECT COUNT(*) FROM calls WHERE outcome = 'timeout'").await,
                records.len().div_ceil(3) as i64
            );
        }
    }

    #[test]
    fn row_ids_are_distinct_uuids_that_sort_by_the_time_of_their_record() {
        let at = Utc::now();
        let random = *uuid::Uuid::new_v4().as_bytes();
        let mut ids: Vec<String> = (0..10_000).map(|i| row_id(at, &random, i)).collect();
        let later = row_id(at + chrono::Duration::milliseconds(1), &random, 0);
        assert!(
            ids.iter().all(|id| *id < later),
            "a later millisecond sorts after"
        );
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10_000, "one id per row");
    }

    #[tokio::test]
    async fn recorded_calls_are_written_by_the_time_flush_returns() {
        for db in crate::db::testing::all().await {
            let recorder = Recorder::start(db.db(), Arc::new(Metrics::new()));
            recorder.plugin_call(tool_call(Outcome::Ok));
            recorder.plugin_call(tool_call(Outcome::Timeout));
            recorder.chat_call(ChatCall {
                route: "mama-bear".into(),
                provider: Some("local".into()),
                model: Some("echo".into()),
                ok: true,
                cached: false,
                error_code: None,
                duration: Duration::from_millis(5),
                tokens: Some(42),
            });
            recorder.flush().await;
            let rows = sqlx::query(
                "SELECT source, plugin_id, operation, route, outcome, cached, duration_ms, tokens \
                 FROM calls ORDER BY source, outcome",
            )
            .fetch_all(db.pool())
            .await
            .expect("query");
            // One line per row: source plugin operation route outcome cached ms tokens.
            let seen: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {:?} {} {} {} {:?}",
                        r.get::<String, _>("source"),
                        r.get::<String, _>("plugin_id"),
                        r.get::<String, _>("operation"),
                        r.get::<Option<String>, _>("route"),
                        r.get::<String, _>("outcome"),
                        r.get::<i64, _>("cached"),
                        r.get::<f64, _>("duration_ms"),
                        r.get::<Option<i64>, _>("tokens"),
                    )
                })
                .collect();
            assert_eq!(
                seen,
                [
                    r#"chat local chat Some("mama-bear") ok 0 5 Some(42)"#,
                    "plugin time now None ok 0 12 None",
                    "plugin time now None timeout 0 12 None",
                ],
                "{}",
                db.kind()
            );
            assert_eq!(recorder.stats().written, 3);
            assert_eq!(recorder.stats().dropped, 0);
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let db = crate::db::testing::sqlite().await;
        let metrics = Arc::new(Metrics::new());
        // A current-thread test runtime: the writer cannot run until this test awaits,
        // so the queue of one fills at once.
        let recorder = Recorder::with_capacity(db.db(), metrics.clone(), 1);
        for _ in 0..5 {
            recorder.plugin_call(tool_call(Outcome::Ok));
        }
        assert_eq!(recorder.stats().dropped, 4);
        assert!(
            metrics
                .encode()
                .expect("encode")
                .contains("sanctuary_call_records_dropped_total 4"),
        );
        // Every call still reached the counters.
        assert!(metrics.encode().expect("encode").contains(
            r#"sanctuary_plugin_calls_total{plugin="time",kind="mcp-server",outcome="ok"} 5"#
        ));
        recorder.flush().await;
        assert_eq!(recorder.stats().written, 1);
    }

    #[tokio::test]
    async fn with_rows_off_calls_are_counted_but_never_written() {
        let db = crate::db::testing::sqlite().await;
        let metrics = Arc::new(Metrics::new());
        let recorder = Recorder::start(db.db(), metrics.clone()).with_rows(false);
        for _ in 0..3 {
            recorder.plugin_call(tool_call(Outcome::Ok));
        }
        recorder.flush().await;
        assert_eq!(
            recorder.stats(),
            RecorderStats {
                dropped: 0,
                written: 0,
                failed: 0
            }
        );
        assert!(metrics.encode().expect("encode").contains(
            r#"sanctuary_plugin_calls_total{plugin="time",kind="mcp-server",outcome="ok"} 3"#
        ));
    }

    #[test]
    fn call_errors_map_to_the_recorded_outcomes() {
        let plugin = || "p".to_string();
        let cases: [(Result<(), CallError>, &str); 6] = [
            (Ok(()), "ok"),
            (
                Err(CallError::Plugin {
                    plugin: plugin(),
                    code: "denied",
                    message: String::new(),
                }),
                "error",
            ),
            (
                Err(CallError::Setup {
                    plugin: plugin(),
                    message: String::new(),
                }),
                "error",
            ),
            (
                Err(CallError::Timeout {
                    plugin: plugin(),
                    ms: 1,
                }),
                "timeout",
            ),
            (
                Err(CallError::Trap {
                    plugin: plugin(),
                    message: String::new(),
                }),
                "trap",
            ),
            (
                Err(CallError::MemoryCap {
                    plugin: plugin(),
                    mb: 1,
                }),
                "memory",
            ),
        ];
        for (result, expected) in cases {
            assert_eq!(Outcome::of(&result).as_str(), expected, "{result:?}");
        }
    }
}
