//! Background content-generation jobs (seed 001): a prompt, optionally for several
//! channels (`["email", "website"]`), answered by the AI provider plugins of a chat route
//! ([`crate::chat::answer`]) while the client does something else.
//!
//! Jobs live in the `jobs` table ([`store`]), which is also the queue: `concurrency`
//! workers ([`runner`]) claim the oldest `pending` job one at a time, so jobs beyond that
//! wait as `pending`, in order, and survive a restart. Status goes `pending` →
//! `in_progress` → `completed` | `failed`; `cancelled` from either of the first two, and a
//! retry puts a `failed` or `cancelled` job back to `pending`. Every change is sent as a
//! [`JobEvent`] to whoever listens: the `/ws/jobs` WebSocket and Socket.IO ([`events`]).
//!
//! Nothing is lost to a restart: at start, `pending` jobs simply wait for a worker again,
//! and a job left `in_progress` (the server stopped or crashed under it) goes back to
//! `pending` to be run again, unless it has already started `max_attempts` runs, in which
//! case it is marked `failed` with a reason naming the restart.
//!
//! Several nodes may share one database. A claimed job carries its node's id and a lease
//! (`[jobs] lease_secs`) that the run renews every fifth of it; a node takes back only
//! jobs whose lease ran out (every node looks every fifth of the lease, so a job of a
//! killed node runs again elsewhere) and, at its start, its own from an earlier life —
//! never another live node's. A cancel sent to any node marks the row; the owning node's
//! next renewal finds it and stops the provider call. The node id is kept in
//! `<data_dir>/node-id` ([`node_id`]).

pub mod events;
pub mod runner;
pub mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::chat::json_type;
use crate::chat::params::{self, Sampling};
use crate::clock;
use crate::cluster::Cluster;
use crate::config::JobsConfig;
use crate::db::{self, Db};
use crate::providers::Providers;
use crate::runtime::ids::{self, Kind};
use crate::state::AppState;

/// The route a job runs on when it names none.
pub const DEFAULT_ROUTE: &str = crate::providers::MAMA_BEAR;
/// Longest accepted prompt, in bytes.
pub const MAX_PROMPT_LEN: usize = 100_000;
/// Most channels one job may ask for.
pub const MAX_CHANNELS: usize = 20;
/// Longest accepted channel name, `document_id` or route name, in bytes.
/// Events buffered for a slow listener before it misses some.
const EVENT_BUFFER: usize = 1024;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// A provider is working on it.
    InProgress,
    /// Done; `results` holds the content.
    Completed,
    /// A provider failed it (or a restart interrupted it too often); `error` says why.
    Failed,
    /// Cancelled by a client.
    Cancelled,
}

impl Status {
    /// Every status, in life order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::InProgress,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The name stored and shown (`in_progress`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status named `name`, if any.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A job as the API and the events show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// `job-<uuid>`.
    pub job_id: String,
    /// The document the content is for, as the client named it.
    pub document_id: Option<String>,
    /// Where the job is in its life.
    pub status: Status,
    /// Channels to write for (one piece of content each); empty for one piece.
    pub channels: Vec<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When its last run started.
    pub started_at: Option<String>,
    /// When it completed, failed or was cancelled.
    pub completed_at: Option<String>,
    /// When it last changed.
    pub updated_at: String,
    /// The content: `{content, model, provider, tokens_used}`, or one such object per
    /// channel keyed by channel name (free-form: the shape depends on the channels asked
    /// for). `null` until completed.
    #[schema(value_type = Option<Object>)]
    pub results: Option<Value>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// What to write.
    pub prompt: String,
    /// The chat route whose providers write it.
    pub route: String,
    /// Runs started: restarts and retries count.
    pub attempts: i64,
    /// The provider plugin that answered (the last one, for several channels).
    pub provider: Option<String>,
    /// The model that answered (the last one).
    pub model: Option<String>,
    /// Tokens used by every call of the successful run.
    pub tokens_used: Option<i64>,
    /// Seconds the successful run took.
    pub processing_time: Option<f64>,
    /// The sampling parameters the job was created with (none: the provider's defaults).
    #[serde(default, skip_serializing_if = "Sampling::is_unset")]
    #[schema(value_type = Option<crate::chat::params::Sampling>)]
    pub sampling: Sampling,
}

/// What a job event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A job was created (`pending`).
    JobCreated,
    /// A job changed: started, retried, re-queued or cancelled.
    JobUpdate,
    /// A job completed.
    JobCompleted,
    /// A job failed.
    JobFailed,
}

impl EventKind {
    /// The event's name on the WebSocket (`type`) and on Socket.IO.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::JobCreated => "job_created",
            EventKind::JobUpdate => "job_update",
            EventKind::JobCompleted => "job_completed",
            EventKind::JobFailed => "job_failed",
        }
    }
}

/// A change of a job: `{type, job, timestamp}` on the WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The job as it is now.
    pub job: Job,
    /// When it happened (RFC 3339).
    pub timestamp: String,
}

/// Why a job operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: says which field and why.
    #[error("{message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No job has this id.
    #[error("job `{0}` does not exist")]
    NotFound(String),
    /// The job's status does not allow the operation.
    #[error("job `{job_id}` is {status}; only {allowed} jobs can be {action}")]
    Conflict {
        /// The job.
        job_id: String,
        /// Its status now.
        status: &'static str,
        /// The statuses that would allow it.
        allowed: &'static str,
        /// `retried` or `cancelled`.
        action: &'static str,
    },
    /// Reading or writing jobs failed.
    #[error("job storage failed")]
    Storage(#[from] db::Error),
}

/// Result of a job operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// A validated `POST /api/jobs` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to write; never empty.
    pub prompt: String,
    /// The chat route (default [`DEFAULT_ROUTE`]).
    pub route: String,
    /// The document it is for.
    pub document_id: Option<String>,
    /// Channels, distinct, in the order given.
    pub channels: Vec<String>,
    /// `max_tokens`, `temperature`, `top_p`, checked as on every chat surface.
    pub sampling: Sampling,
}

/// The request body of `POST /api/jobs`, for the API description.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct NewJobBody {
    /// What to write; a non-empty string.
    prompt: String,
    /// The chat route whose providers write it (default `mama-bear`).
    route: Option<String>,
    /// The document the content is for.
    document_id: Option<String>,
    /// Channels to write for, one piece of content each (e.g. `["email", "website"]`).
    channels: Option<Vec<String>>,
    /// Longest answer per piece, in tokens: 1 to 1,000,000 (`max_completion_tokens` too).
    max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    top_p: Option<f32>,
}

impl NewJob {
    /// Reads a job request: `prompt` a non-empty string, `route`, `document_id` strings
    /// and `channels` an array of distinct non-empty strings when present (`null` counts
    /// as absent). Other fields are ignored. Whether the route exists is checked by
    /// [`Jobs::create`].
    pub fn from_json(value: Value) -> Result<NewJob> {
        let Value::Object(mut fields) = value else {
            return Err(invalid(
                "prompt",
                format!(
                    "the request must be a JSON object with a `prompt` string, not {}",
                    json_type(&value)
                ),
            ));
        };
        let param = |e: params::ParamError| invalid(e.field, e.message);
        let sampling = params::sampling(&fields).map_err(param)?;
        let prompt = match fields.remove("prompt") {
            None | Some(Value::Null) => return Err(invalid("prompt", "prompt is required")),
            Some(Value::String(text)) if text.trim().is_empty() => {
                return Err(invalid("prompt", "prompt must not be empty"));
            }
            Some(Value::String(text)) if text.len() > MAX_PROMPT_LEN => {
                return Err(invalid(
                    "prompt",
                    format!("prompt is longer than {MAX_PROMPT_LEN} bytes"),
                ));
            }
            Some(Value::String(text)) => {
                params::message_text("prompt", "prompt", &text).map_err(param)?;
                text
            }
            Some(other) => {
                return Err(invalid(
                    "prompt",
                    format!("prompt must be a string, not {}", json_type(&other)),
                ));
            }
        };
        let route = params::optional_id(&mut fields, "route", Kind::Route)
            .map_err(param)?
            .unwrap_or_else(|| DEFAULT_ROUTE.into());
        let document_id =
            params::optional_id(&mut fields, "document_id", Kind::Document).map_err(param)?;
        let channels = match fields.remove("channels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => channels(items)?,
            Some(other) => {
                return Err(invalid(
                    "channels",
                    format!(
                        "channels must be an array of strings, not {}",
                        json_type(&other)
                    ),
                ));
            }
        };
        Ok(NewJob {
            prompt,
            route,
            document_id,
            channels,
            sampling,
        })
    }
}

fn channels(items: Vec<Value>) -> Result<Vec<String>> {
    if items.len() > MAX_CHANNELS {
        return Err(invalid(
            "channels",
            format!("at most {MAX_CHANNELS} channels per job"),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = match item {
            Value::String(name) => {
                let name = name.trim().to_string();
                ids::check(Kind::Channel, &name)
                    .map_err(|err| invalid("channels", err.to_string()))?;
                name
            }
            other => {
                return Err(invalid(
                    "channels",
                    format!("a channel must be a string, not {}", json_type(&other)),
                ));
            }
        };
        if names.contains(&name) {
            return Err(invalid(
                "channels",
                format!("channel `{name}` is listed twice"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// Which jobs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// Only jobs of this status.
    pub status: Option<Status>,
    /// At most this many.
    pub limit: i64,
    /// Skipping this many of the newest first.
    pub offset: i64,
}

/// How the stored jobs were taken up at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Jobs waiting for a worker (left `pending`, plus those re-queued).
    pub pending: u64,
    /// Jobs left `in_progress`, put back to `pending` to run again.
    pub requeued: Vec<String>,
    /// Jobs left `in_progress` that had used up their attempts: now `failed`.
    pub failed: Vec<String>,
}

/// The job service: storage, workers, cancellation and events.
pub struct Jobs {
    db: Db,
    config: JobsConfig,
    /// This node's id: the owner of the jobs it claims.
    node: String,
    /// Where this node's job events go to the other nodes.
    cluster: Arc<Cluster>,
    events: broadcast::Sender<JobEvent>,
    /// Wakes an idle worker when a job becomes `pending`.
    wake: Notify,
    /// The runs in progress here, by job id: the attempt number and how to stop it.
    running: Mutex<HashMap<String, (i64, CancellationToken)>>,
    /// Whether the workers were started.
    started: AtomicBool,
    /// Held for writing while a new job is stored and announced, for reading while a
    /// worker claims one: `job_created` always shows the job still `pending`, before any
    /// worker here can claim it.
    admission: tokio::sync::RwLock<()>,
}

impl Jobs {
    /// The job service over `db` for the node of `cluster` (see [`node_id`]); no worker runs until
    /// [`Jobs::start`].
    pub fn new(db: Db, config: JobsConfig, cluster: Arc<Cluster>) -> Jobs {
        Jobs {
            db,
            config,
            node: cluster.node().to_owned(),
            cluster,
            events: broadcast::channel(EVENT_BUFFER).0,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            started: AtomicBool::new(false),
            admission: tokio::sync::RwLock::new(()),
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> JobsConfig {
        self.config
    }

    /// Every job event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Takes up the stored jobs ([`Jobs::resume`]) and starts the workers on `state`
    /// (whose `jobs` is this service); call it once. The workers are plain tasks of the
    /// runtime holding a copy of `state` for its life: they never hold up shutdown, and a
    /// job they were running is resumed at the next start.
    pub async fn start(&self, state: &AppState) -> Result<Resumed> {
        if self.started.swap(true, Ordering::SeqCst) {
            tracing::warn!("the job workers are already running");
            return Ok(Resumed::default());
        }
        let resumed = self.resume().await?;
        if !resumed.requeued.is_empty() || !resumed.failed.is_empty() || resumed.pending > 0 {
            tracing::info!(
                pending = resumed.pending,
                requeued = resumed.requeued.len(),
                failed = resumed.failed.len(),
                "jobs resumed after a restart"
            );
        }
        for worker in 0..self.config.concurrency {
            tokio::spawn(runner::work(state.clone(), worker));
        }
        tokio::spawn(runner::reclaim(state.clone()));
        Ok(resumed)
    }

    /// How long a claim holds without renewal.
    pub(crate) fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.config.lease_secs.max(1)))
    }

    /// When a claim made or renewed now runs out.
    pub(crate) fn lease_until(&self) -> String {
        let lease = chrono::Duration::from_std(self.lease()).unwrap_or(chrono::Duration::MAX);
        clock::format(chrono::Utc::now() + lease)
    }

    /// Takes back the jobs of other nodes whose lease ran out (see [`store::reclaim`]),
    /// announcing each change and waking the workers for the requeued ones.
    pub(crate) async fn reclaim_expired(&self) -> Result<()> {
        let now = clock::timestamp();
        let max = i64::from(self.config.max_attempts);
        let (requeued, failed) = store::reclaim(&self.db, max, &now, None).await?;
        for job_id in requeued.iter().chain(&failed) {
            let job = self.get(job_id).await?;
            tracing::warn!(job = %job_id, status = job.status.as_str(), "took back a job whose node stopped renewing its lease");
            self.emit(EventKind::JobUpdate, &job);
        }
        for _ in &requeued {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Puts jobs left `in_progress` by an earlier run of this node (or by any node whose
    /// lease ran out) back to `pending`, or marks them `failed` when they have started
    /// `max_attempts` runs already. Jobs other live nodes run are left alone. Only call it
    /// before any worker of this node runs.
    pub async fn resume(&self) -> Result<Resumed> {
        let now = clock::timestamp();
        let max = i64::from(self.config.max_attempts);
        let (requeued, failed) = store::reclaim(&self.db, max, &now, Some(&self.node)).await?;
        let pending = store::count(&self.db, Some(Status::Pending)).await?;
        Ok(Resumed {
            pending: u64::try_from(pending).unwrap_or_default(),
            requeued,
            failed,
        })
    }

    /// Creates a `pending` job from `new`, checking its route against `providers`.
    pub async fn create(&self, providers: &Providers, new: NewJob) -> Result<Job> {
        if providers.route(&new.route).is_none() {
            // The table is a BTreeMap underneath: already sorted.
            let known: Vec<String> = providers.table().iter().map(|r| r.name.clone()).collect();
            return Err(invalid(
                "route",
                format!(
                    "no chat route is named `{}` (known: {})",
                    new.route,
                    known.join(", ")
                ),
            ));
        }
        let now = clock::timestamp();
        let job_id = format!("job-{}", uuid::Uuid::new_v4());
        let admitted = self.admission.write().await;
        store::insert(&self.db, &job_id, &new, &now).await?;
        let job = self.get(&job_id).await?;
        tracing::info!(job = %job.job_id, route = %job.route, channels = job.channels.len(), "job created");
        self.emit(EventKind::JobCreated, &job);
        drop(admitted);
        self.wake.notify_one();
        Ok(job)
    }

    /// Job `job_id`.
    pub async fn get(&self, job_id: &str) -> Result<Job> {
        store::get(&self.db, job_id)
            .await?
            .ok_or_else(|| Error::NotFound(job_id.to_string()))
    }

    /// The jobs `filter` selects, newest first, and how many it selects in all.
    pub async fn list(&self, filter: Filter) -> Result<(Vec<Job>, i64)> {
        let jobs = store::list(&self.db, filter).await?;
        let total = store::count(&self.db, filter.status).await?;
        Ok((jobs, total))
    }

    /// Cancels a `pending` or `in_progress` job; a run in progress here is stopped (its
    /// provider call dropped), one on another node at that node's next lease renewal.
    pub async fn cancel(&self, job_id: &str) -> Result<Job> {
        let now = clock::timestamp();
        if !store::cancel(&self.db, job_id, &now).await? {
            return Err(self
                .conflict(job_id, "pending or in_progress", "cancelled")
                .await);
        }
        // After the row says `cancelled`: a run claimed later checks the row, one claimed
        // earlier has its token here.
        if let Some((_, token)) = self.lock_running().get(job_id) {
            token.cancel();
        }
        let job = self.get(job_id).await?;
        tracing::info!(job = %job_id, "job cancelled");
        self.emit(EventKind::JobUpdate, &job);
        Ok(job)
    }

    /// Puts a `failed` or `cancelled` job back to `pending`, clearing its outcome.
    pub async fn retry(&self, job_id: &str) -> Result<Job> {
        let now = clock::timestamp();
        let admitted = self.admission.write().await;
        if !store::retry(&self.db, job_id, &now).await? {
            drop(admitted);
            return Err(self
                .conflict(job_id, "failed or cancelled", "retried")
                .await);
        }
        let job = self.get(job_id).await?;
        tracing::info!(job = %job_id, attempts = job.attempts, "job retried");
        self.emit(EventKind::JobUpdate, &job);
        drop(admitted);
        self.wake.notify_one();
        Ok(job)
    }

    /// Why `action` did not apply to `job_id`: it does not exist, or its status.
    async fn conflict(&self, job_id: &str, allowed: &'static str, action: &'static str) -> Error {
        match store::get(&self.db, job_id).await {
            Ok(Some(job)) => Error::Conflict {
                job_id: job_id.to_string(),
                status: job.status.as_str(),
                allowed,
                action,
            },
            Ok(None) => Error::NotFound(job_id.to_string()),
            Err(err) => err.into(),
        }
    }

    /// Sends `job` as a `kind` event to every listener, here and on the other nodes.
    fn emit(&self, kind: EventKind, job: &Job) {
        let event = JobEvent {
            kind,
            job: job.clone(),
            timestamp: clock::timestamp(),
        };
        self.cluster.publish(crate::cluster::Event::Job {
            event: Box::new(event.clone()),
        });
        // No listener is not an error.
        let _ = self.events.send(event);
    }

    /// Follows a job event of another node: this node's listeners hear of it, a pending
    /// job wakes a worker here, and a cancelled job running here stops at once.
    pub fn follow(&self, event: JobEvent) {
        match event.job.status {
            Status::Pending => self.wake.notify_one(),
            Status::Cancelled => {
                if let Some((_, token)) = self.lock_running().get(&event.job.job_id) {
                    tracing::info!(job = %event.job.job_id, "job cancelled on another node; stopping its run here");
                    token.cancel();
                }
            }
            _ => {}
        }
        let _ = self.events.send(event);
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, CancellationToken)>> {
        // A panic while holding this lock leaves the map consistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// This node's id, kept in `<data_dir>/node-id` so that a restarted node knows the jobs
/// its earlier life left running (and takes them back at once instead of waiting for their
/// lease): created with a fresh UUID on first start. Nodes sharing a database need data
/// directories of their own (or at least their own `node-id` file).
pub fn node_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let file = data_dir.join("node-id");
    match std::fs::read_to_string(&file) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let id = format!("node-{}", uuid::Uuid::new_v4());
    crate::plugins::write_atomic(&file, id.as_bytes())?;
    Ok(id)
}

#[cfg(test)]
mod tests;
