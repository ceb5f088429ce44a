//! The workers: each claims the first job of the queue ([`store::claim_next`]), asks the
//! job's route for its content (one provider call per channel, or one for a job without
//! channels) and stores the outcome, then claims the next. An idle worker sleeps until a
//! job becomes `pending` (or a short poll, should another server share the database).
//!
//! A run can be cancelled at any point: its token fires, the provider call in flight is
//! dropped, and the row (already `cancelled` by [`super::Jobs::cancel`]) is left alone.
//! While it runs, its lease is renewed every fifth of `[jobs] lease_secs`; a renewal that
//! finds the run no longer this node's (cancelled through another node, or taken back)
//! fires the token too. [`reclaim`] takes back other nodes' expired jobs.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::store::{self, Outcome};
use super::{EventKind, Job, Status};
use crate::clock;
use crate::providers;
use crate::runtime::provider::{ChatRequest, Message, Role};
use crate::state::AppState;

/// How long an idle worker sleeps before looking at the queue unasked, and waits after a
/// database error.
const POLL: Duration = Duration::from_secs(5);

/// One worker, for the life of the runtime.
pub async fn work(state: AppState, worker: u32) {
    let jobs = state.jobs.clone();
    loop {
        // Registered before looking, so a job created in between still wakes us.
        let woken = jobs.wake.notified();
        let claimed = {
            let _admission = jobs.admission.read().await;
            store::claim_next(
                &jobs.db,
                &clock::timestamp(),
                &jobs.node,
                &jobs.lease_until(),
            )
            .await
        };
        match claimed {
            Ok(Some(job)) => {
                let span = info_span!("job", job = %job.job_id, attempt = job.attempts, worker);
                run(&state, job).instrument(span).await;
            }
            Ok(None) => {
                tokio::select! {
                    () = woken => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Err(err) => {
                warn!(worker, cause = %format!("{:#}", anyhow::Error::from(err)), "cannot read the job queue");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Runs one claimed job to its end: completed, failed, or cancelled by a client.
async fn run(state: &AppState, job: Job) {
    let jobs = &state.jobs;
    let token = CancellationToken::new();
    jobs.lock_running()
        .insert(job.job_id.clone(), (job.attempts, token.clone()));
    // A cancel that came between the claim and the line above found no token; it has
    // changed the row, though, so look at the row once more.
    let job = match store::get(&jobs.db, &job.job_id).await {
        Ok(Some(now)) if now.status == Status::InProgress && now.attempts == job.attempts => now,
        Ok(_) => {
            forget(state, &job);
            return;
        }
        Err(err) => {
            // Left `in_progress`: the next start resumes it.
            warn!(cause = %format!("{:#}", anyhow::Error::from(err)), "cannot read the claimed job");
            forget(state, &job);
            return;
        }
    };
    info!(route = %job.route, channels = job.channels.len(), "job started");
    jobs.emit(EventKind::JobUpdate, &job);

    let started = Instant::now();
    let result = tokio::select! {
        () = token.cancelled() => None,
        () = keep_lease(state, &job) => None,
        result = generate(state, &job) => Some(result),
    };
    forget(state, &job);
    let now = clock::timestamp();
    let stored = match result {
        None => {
            info!("job run stopped: cancelled");
            return;
        }
        Some(Ok(mut outcome)) => {
            outcome.processing_ms =
                i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            store::complete(&jobs.db, &job.job_id, job.attempts, &outcome, &now)
                .await
                .map(|done| (done, EventKind::JobCompleted))
        }
        Some(Err(message)) => {
            warn!(cause = %message, "job failed");
            store::fail(&jobs.db, &job.job_id, job.attempts, &message, &now)
                .await
                .map(|done| (done, EventKind::JobFailed))
        }
    };
    match stored {
        Ok((true, kind)) => match store::get(&jobs.db, &job.job_id).await {
            Ok(Some(job)) => {
                info!(
                    status = job.status.as_str(),
                    tokens = job.tokens_used,
                    "job finished"
                );
                jobs.emit(kind, &job);
            }
            Ok(None) => {}
            Err(err) => {
                warn!(cause = %format!("{:#}", anyhow::Error::from(err)), "cannot read the finished job")
            }
        },
        // Cancelled while the outcome was on its way: the cancel stands.
        Ok((false, _)) => debug!("job outcome dropped: the job changed meanwhile"),
        Err(err) => warn!(
            cause = %format!("{:#}", anyhow::Error::from(err)),
            "cannot store the job outcome; it runs again at the next start"
        ),
    }
}

/// Renews the run's lease every fifth of it, for as long as it runs; returns (so the
/// caller drops the run) when the row says the run is no longer this node's: cancelled through another
/// node, or taken back after the lease ran out. A database error is logged and retried at
/// the next renewal.
async fn keep_lease(state: &AppState, job: &Job) {
    let jobs = &state.jobs;
    let every = jobs.lease() / 5;
    loop {
        tokio::time::sleep(every).await;
        match store::renew(
            &jobs.db,
            &job.job_id,
            job.attempts,
            &jobs.node,
            &jobs.lease_until(),
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                info!("job run stopped: the job was cancelled or taken over elsewhere");
                return;
            }
            Err(err) => {
                warn!(cause = %format!("{:#}", anyhow::Error::from(err)), "cannot renew the job's lease")
            }
        }
    }
}

/// Every fifth of the lease, takes back the jobs of nodes that stopped renewing theirs
/// ([`super::Jobs::reclaim_expired`]), for the life of the runtime.
pub async fn reclaim(state: AppState) {
    let jobs = state.jobs.clone();
    let every = jobs.lease() / 5;
    loop {
        tokio::time::sleep(every).await;
        if let Err(err) = jobs.reclaim_expired().await {
            warn!(cause = %format!("{:#}", anyhow::Error::from(err)), "cannot take back expired jobs");
        }
    }
}

/// Removes this run's token, unless a later run of the same job has put its own.
fn forget(state: &AppState, job: &Job) {
    let mut running = state.jobs.lock_running();
    if running
        .get(&job.job_id)
        .is_some_and(|(attempt, _)| *attempt == job.attempts)
    {
        running.remove(&job.job_id);
    }
}

/// Asks the job's route for its content: one call per channel, in order, or one call. An
/// error is the message to store: which channel, and the provider's error.
async fn generate(state: &AppState, job: &Job) -> Result<Outcome, String> {
    if job.channels.is_empty() {
        let piece = piece(state, job, None).await?;
        return Ok(Outcome {
            provider: piece.provider.clone(),
            model: piece.model.clone(),
            tokens_used: piece.tokens_used,
            results: piece.to_json(),
            processing_ms: 0,
        });
    }
    let mut results = Map::new();
    let mut tokens_used = 0;
    let mut last = None;
    for channel in &job.channels {
        let piece = piece(state, job, Some(channel))
            .await
            .map_err(|e| format!("channel `{channel}`: {e}"))?;
        tokens_used += piece.tokens_used;
        results.insert(channel.clone(), piece.to_json());
        last = Some(piece);
    }
    let last = last.ok_or_else(|| "the job has no channels".to_string())?;
    Ok(Outcome {
        results: Value::Object(results),
        provider: last.provider,
        model: last.model,
        tokens_used,
        processing_ms: 0,
    })
}

/// One piece of content, as `results` shows it.
struct Piece {
    content: String,
    model: String,
    provider: String,
    tokens_used: i64,
}

impl Piece {
    fn to_json(&self) -> Value {
        json!({
            "content": self.content,
            "model": self.model,
            "provider": self.provider,
            "tokens_used": self.tokens_used,
        })
    }
}

/// One provider call: the job's prompt, for `channel` when given.
async fn piece(state: &AppState, job: &Job, channel: Option<&str>) -> Result<Piece, String> {
    let request = request(job, channel);
    let route = providers::named_route(&state.chat, &job.route).map_err(|e| e.to_string())?;
    let served = crate::chat::answer(&state.chat, route, request, crate::chat::Surface::Job)
        .outcome()
        .await
        .map_err(|e| e.to_string())?;
    let usage = &served.response.usage;
    Ok(Piece {
        content: served.response.text,
        model: served.response.model,
        provider: served.provider,
        tokens_used: i64::from(usage.prompt_tokens) + i64::from(usage.completion_tokens),
    })
}

/// The chat request for one piece: an instruction naming the channel, then the prompt.
fn request(job: &Job, channel: Option<&str>) -> ChatRequest {
    let instruction = match channel {
        Some(channel) => format!(
            "You write content for the {channel} channel. Write what the next message asks \
             for as content for {channel}, in the form and length that suit {channel}. \
             Answer with the content only."
        ),
        None => "You write content. Write what the next message asks for. Answer with the \
                 content only."
            .to_string(),
    };
    let context = json!({
        "job_id": job.job_id,
        "document_id": job.document_id,
        "channel": channel,
    });
    ChatRequest {
        model: None,
        messages: vec![
            Message {
                role: Role::System,
                content: instruction,
            },
            Message {
                role: Role::User,
                content: job.prompt.clone(),
            },
        ],
        max_tokens: job.sampling.max_tokens,
        temperature: job.sampling.temperature,
        streaming: false,
        context: Some(context.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(channels: &[&str]) -> Job {
        Job {
            job_id: "job-1".into(),
            document_id: Some("doc-7".into()),
            status: Status::InProgress,
            channels: channels.iter().map(|c| c.to_string()).collect(),
            created_at: clock::timestamp(),
            started_at: None,
            completed_at: None,
            updated_at: clock::timestamp(),
            results: None,
            error: None,
            prompt: "Announce the spring sale".into(),
            route: "mama-bear".into(),
            attempts: 1,
            provider: None,
            model: None,
            tokens_used: None,
            processing_time: None,
            sampling: Default::default(),
        }
    }

    #[test]
    fn a_channel_request_names_the_channel_and_carries_the_prompt_last() {
        let request = request(&job(&["email"]), Some("email"));
        assert_eq!(request.messages.len(), 2);
        assert!(matches!(request.messages[0].role, Role::System));
        assert!(request.messages[0].content.contains("email"));
        let last = request.messages.last().expect("a message");
        assert!(matches!(last.role, Role::User));
        assert_eq!(last.content, "Announce the spring sale");
        let context: Value =
            serde_json::from_str(request.context.as_deref().expect("context")).expect("JSON");
        assert_eq!(context["channel"], "email");
        assert_eq!(context["document_id"], "doc-7");
        assert_eq!(context["job_id"], "job-1");
    }

    #[test]
    fn a_request_without_channel_names_none() {
        let request = request(&job(&[]), None);
        assert!(!request.messages[0].content.contains("channel"));
        let context: Value =
            serde_json::from_str(request.context.as_deref().expect("context")).expect("JSON");
        assert!(context["channel"].is_null());
        assert!(!request.streaming);
    }
}
