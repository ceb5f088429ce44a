//! Job tests: request validation, the queue and its conditional updates on every database,
//! resume after a restart, and the routes over the test state (no provider loaded unless
//! a test loads the offline `local` one; workers only where a test starts them).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::store::{self, Outcome};
use super::*;
use crate::api::test_support::{ADMIN_KEY, get, send, state};
use crate::db::testing;

/// Upper bound on waiting for a job event; only reached when something is broken.
const PATIENCE: Duration = Duration::from_secs(120);
/// The node these tests' claims belong to.
const NODE: &str = "node-test";

/// A node alone (no Redis) named `name`.
fn node(name: &str) -> Arc<Cluster> {
    Arc::new(Cluster::single(name))
}

/// A lease that holds for a minute from now.
fn lease() -> String {
    clock::format(chrono::Utc::now() + chrono::Duration::seconds(60))
}

fn new_job(prompt: &str) -> NewJob {
    NewJob::from_json(json!({ "prompt": prompt })).expect("valid")
}

fn post(uri: &str, key: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request")
}

/// The next event about `job_id`.
async fn next_event(events: &mut broadcast::Receiver<JobEvent>, job_id: &str) -> JobEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.recv().await.expect("the event channel is open");
            if event.job.job_id == job_id {
                return event;
            }
        }
    })
    .await
    .expect("the job moves on")
}

/// Loads the bundled offline `local` provider, which answers `mama-bear` by default.
async fn load_local(state: &AppState) {
    use crate::plugins::artifacts::BUNDLED;
    let bundled = BUNDLED
        .iter()
        .find(|b| b.dir == "local")
        .expect("the local plugin is bundled");
    let manifest = crate::manifest::Manifest::from_json(bundled.manifest).expect("manifest");
    let dir = state.config.data_dir.join("plugins").join("local");
    let live = state
        .plugins
        .load_bytes(manifest, bundled.component.to_vec(), &dir)
        .await
        .expect("the local provider loads");
    state.plugins.insert(live);
}

#[test]
fn a_job_request_is_read_with_defaults() {
    let new = NewJob::from_json(json!({
        "prompt": "Announce the sale",
        "document_id": "doc-1",
        "channels": ["email", " website "],
        "priority": "ignored",
    }))
    .expect("valid");
    assert_eq!(new.prompt, "Announce the sale");
    assert_eq!(new.route, DEFAULT_ROUTE);
    assert_eq!(new.document_id.as_deref(), Some("doc-1"));
    assert_eq!(new.channels, ["email", "website"]);
    let new = NewJob::from_json(json!({"prompt": "x", "route": "vertex-garden", "channels": null}))
        .expect("valid");
    assert_eq!(new.route, "vertex-garden");
    assert!(new.channels.is_empty());
}

#[test]
fn a_bad_job_request_names_the_field_and_what_is_wrong() {
    for (body, field, says) in [
        (json!({}), "prompt", "required"),
        (json!({"prompt": "  "}), "prompt", "empty"),
        (json!({"prompt": 5}), "prompt", "a number"),
        (json!(["prompt"]), "prompt", "an array"),
        (json!({"prompt": "x", "route": 1}), "route", "a number"),
        (json!({"prompt": "x", "route": ""}), "route", "empty"),
        (
            json!({"prompt": "x", "document_id": {}}),
            "document_id",
            "an object",
        ),
        (
            json!({"prompt": "x", "channels": "email"}),
            "channels",
            "a string",
        ),
        (
            json!({"prompt": "x", "channels": ["email", 3]}),
            "channels",
            "a number",
        ),
        (
            json!({"prompt": "x", "channels": ["email", "email"]}),
            "channels",
            "twice",
        ),
        (
            json!({"prompt": "x", "channels": [""]}),
            "channels",
            "empty",
        ),
        (
            json!({"prompt": "x", "channels": ["e\nmail"]}),
            "channels",
            "may only contain",
        ),
        (
            json!({"prompt": "x", "route": "mama-bear\nINFO forged"}),
            "route",
            "route name",
        ),
        (
            json!({"prompt": "x", "document_id": "../etc"}),
            "document_id",
            "start with a letter",
        ),
        (
            json!({"prompt": "x", "max_tokens": -1}),
            "max_tokens",
            "1 to",
        ),
        (
            json!({"prompt": "x", "temperature": 1e308}),
            "temperature",
            "temperature",
        ),
        (
            json!({"prompt": "x".repeat(MAX_PROMPT_LEN + 1)}),
            "prompt",
            "longer",
        ),
    ] {
        match NewJob::from_json(body.clone()) {
            Err(Error::Invalid {
                field: got,
                message,
            }) => {
                assert_eq!(got, field, "{body}");
                assert!(message.contains(says), "{body}: {message}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    let many: Vec<String> = (0..=MAX_CHANNELS).map(|i| format!("c{i}")).collect();
    assert!(NewJob::from_json(json!({"prompt": "x", "channels": many})).is_err());
}

#[tokio::test]
async fn a_job_keeps_its_sampling_parameters_and_its_request_carries_them() {
    let new = NewJob::from_json(json!({
        "prompt": "Announce the sale",
        "max_tokens": 64,
        "temperature": 0.5,
    }))
    .expect("valid");
    assert_eq!(new.sampling.max_tokens, Some(64));
    for db in testing::all().await {
        store::insert(&db, "job-s", &new, &crate::clock::timestamp())
            .await
            .expect("insert");
        let job = store::get(&db, "job-s")
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(job.sampling, new.sampling);
        let shown = serde_json::to_value(&job).expect("json");
        assert_eq!(shown["sampling"]["max_tokens"], 64);
        let plain = NewJob::from_json(json!({"prompt": "x"})).expect("valid");
        store::insert(&db, "job-p", &plain, &crate::clock::timestamp())
            .await
            .expect("insert");
        let job = store::get(&db, "job-p")
            .await
            .expect("get")
            .expect("stored");
        assert!(job.sampling.is_unset());
        assert!(
            serde_json::to_value(&job)
                .expect("json")
                .get("sampling")
                .is_none()
        );
    }
}

#[tokio::test]
async fn the_queue_hands_out_jobs_in_order_once_each_on_every_database() {
    for db in testing::all().await {
        let jobs = Jobs::new(db.db(), JobsConfig::default(), node(NODE));
        let providers = crate::providers::for_config(&crate::config::Config::default());
        let first = jobs
            .create(&providers, new_job("first"))
            .await
            .expect("created");
        let second = jobs
            .create(&providers, new_job("second"))
            .await
            .expect("created");
        assert_eq!(first.status, Status::Pending);
        assert_eq!(first.attempts, 0);
        assert!(first.results.is_none() && first.started_at.is_none());

        let now = clock::timestamp();
        let claimed = store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(claimed.job_id, first.job_id, "first in, first out");
        assert_eq!(claimed.status, Status::InProgress);
        assert_eq!(claimed.attempts, 1);
        assert!(claimed.started_at.is_some());
        let claimed_second = store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(claimed_second.job_id, second.job_id);
        assert!(
            store::claim_next(&db, &now, NODE, &lease())
                .await
                .expect("claim")
                .is_none()
        );

        // A cancel wins over an outcome arriving afterwards.
        jobs.cancel(&first.job_id).await.expect("cancelled");
        let outcome = Outcome {
            results: json!({"content": "late"}),
            provider: "p".into(),
            model: "m".into(),
            tokens_used: 3,
            processing_ms: 1500,
        };
        assert!(
            !store::complete(&db, &first.job_id, 1, &outcome, &now)
                .await
                .expect("update")
        );
        assert_eq!(
            jobs.get(&first.job_id).await.expect("job").status,
            Status::Cancelled
        );

        // The current run's outcome is stored, once; a stale run's is not.
        assert!(
            !store::complete(&db, &second.job_id, 7, &outcome, &now)
                .await
                .expect("update")
        );
        assert!(
            store::complete(&db, &second.job_id, 1, &outcome, &now)
                .await
                .expect("update")
        );
        let done = jobs.get(&second.job_id).await.expect("job");
        assert_eq!(done.status, Status::Completed);
        assert_eq!(done.results, Some(json!({"content": "late"})));
        assert_eq!(done.tokens_used, Some(3));
        assert_eq!(done.processing_time, Some(1.5));
        assert!(done.completed_at.is_some());
        assert!(
            !store::fail(&db, &second.job_id, 1, "too late", &now)
                .await
                .expect("update")
        );

        let (listed, total) = jobs
            .list(Filter {
                status: Some(Status::Completed),
                limit: 10,
                offset: 0,
            })
            .await
            .expect("list");
        assert_eq!(total, 1);
        assert_eq!(listed, [done]);
        let (listed, total) = jobs
            .list(Filter {
                status: None,
                limit: 1,
                offset: 0,
            })
            .await
            .expect("list");
        assert_eq!(total, 2);
        assert_eq!(listed[0].job_id, second.job_id, "newest first");
    }
}

#[tokio::test]
async fn retry_and_cancel_apply_only_to_the_statuses_that_allow_them() {
    for db in testing::all().await {
        let jobs = Jobs::new(db.db(), JobsConfig::default(), node(NODE));
        let providers = crate::providers::for_config(&crate::config::Config::default());
        let job = jobs
            .create(&providers, new_job("x"))
            .await
            .expect("created");
        match jobs.retry(&job.job_id).await {
            Err(Error::Conflict { status, .. }) => assert_eq!(status, "pending"),
            other => panic!("{other:?}"),
        }
        let cancelled = jobs.cancel(&job.job_id).await.expect("cancelled");
        assert_eq!(cancelled.status, Status::Cancelled);
        assert!(cancelled.completed_at.is_some());
        assert!(
            cancelled
                .error
                .as_deref()
                .is_some_and(|e| e.contains("cancelled"))
        );
        match jobs.cancel(&job.job_id).await {
            Err(Error::Conflict { status, .. }) => assert_eq!(status, "cancelled"),
            other => panic!("{other:?}"),
        }
        let retried = jobs.retry(&job.job_id).await.expect("retried");
        assert_eq!(retried.status, Status::Pending);
        assert!(retried.error.is_none() && retried.completed_at.is_none());
        assert!(matches!(
            jobs.retry("job-nope").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            jobs.cancel("job-nope").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            jobs.get("job-nope").await,
            Err(Error::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn cancelling_a_running_job_stops_its_run() {
    let db = testing::db().await;
    let jobs = Jobs::new(db.db(), JobsConfig::default(), node(NODE));
    let providers = crate::providers::for_config(&crate::config::Config::default());
    let job = jobs
        .create(&providers, new_job("x"))
        .await
        .expect("created");
    let claimed = store::claim_next(&db, &clock::timestamp(), NODE, &lease())
        .await
        .expect("claim")
        .expect("a job");
    let token = CancellationToken::new();
    jobs.lock_running()
        .insert(job.job_id.clone(), (claimed.attempts, token.clone()));
    let mut events = jobs.subscribe();
    let cancelled = jobs.cancel(&job.job_id).await.expect("cancelled");
    assert_eq!(cancelled.status, Status::Cancelled);
    assert!(token.is_cancelled(), "the run in progress is told to stop");
    let event = next_event(&mut events, &job.job_id).await;
    assert_eq!(event.kind, EventKind::JobUpdate);
    assert_eq!(event.job.status, Status::Cancelled);
}

#[tokio::test]
async fn a_restart_requeues_interrupted_jobs_and_fails_those_out_of_attempts_on_every_database() {
    for db in testing::all().await {
        let config = JobsConfig {
            concurrency: 1,
            max_attempts: 2,
            ..JobsConfig::default()
        };
        let jobs = Jobs::new(db.db(), config, node(NODE));
        let providers = crate::providers::for_config(&crate::config::Config::default());
        let once = jobs
            .create(&providers, new_job("interrupted once"))
            .await
            .expect("created");
        let twice = jobs
            .create(&providers, new_job("interrupted twice"))
            .await
            .expect("created");
        let waiting = jobs
            .create(&providers, new_job("never started"))
            .await
            .expect("created");
        let now = clock::timestamp();
        store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim");
        // `twice` was already re-run once: put it back and claim it again.
        store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim");
        sqlx::query("UPDATE jobs SET status = 'pending' WHERE job_id = $1")
            .bind(&twice.job_id)
            .execute(db.pool())
            .await
            .expect("update");
        let again = store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(
            (again.job_id.as_str(), again.attempts),
            (twice.job_id.as_str(), 2)
        );

        // The server "dies" here; a new one starts over the same database.
        let restarted = Jobs::new(db.db(), config, node(NODE));
        let resumed = restarted.resume().await.expect("resumed");
        assert_eq!(resumed.requeued, std::slice::from_ref(&once.job_id));
        assert_eq!(resumed.failed, std::slice::from_ref(&twice.job_id));
        assert_eq!(resumed.pending, 2);

        let requeued = restarted.get(&once.job_id).await.expect("job");
        assert_eq!(requeued.status, Status::Pending);
        assert_eq!(requeued.attempts, 1, "the interrupted run counts");
        let failed = restarted.get(&twice.job_id).await.expect("job");
        assert_eq!(failed.status, Status::Failed);
        let reason = failed.error.expect("a reason");
        assert!(reason.contains("restarted"), "{reason}");
        assert!(failed.completed_at.is_some());
        assert_eq!(
            restarted.get(&waiting.job_id).await.expect("job").status,
            Status::Pending
        );
        // The interrupted job keeps its place ahead of the one that never started.
        let next = store::claim_next(&db, &clock::timestamp(), NODE, &lease())
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(next.job_id, once.job_id);
        assert_eq!(next.attempts, 2);
    }
}

#[tokio::test]
async fn a_job_on_a_route_without_a_loaded_provider_fails_with_the_provider_error_and_can_be_retried()
 {
    let (state, _db, _dir) = state().await;
    state.jobs.start(&state).await.expect("the workers start");
    let mut events = state.jobs.subscribe();
    let app = crate::app(state.clone());
    let (status, _, body) = send(
        app.clone(),
        post(
            "/api/jobs",
            Some(ADMIN_KEY),
            Some(json!({"prompt": "Write a haiku"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], true);
    let job_id = body["data"]["job_id"].as_str().expect("an id").to_string();
    assert!(job_id.starts_with("job-"), "{job_id}");
    assert_eq!(body["data"]["route"], "mama-bear");

    let mut seen = Vec::new();
    loop {
        let event = next_event(&mut events, &job_id).await;
        seen.push((event.kind, event.job.status));
        if event.kind == EventKind::JobFailed {
            let error = event.job.error.clone().expect("an error");
            assert!(error.contains("no AI provider is loaded"), "{error}");
            break;
        }
    }
    assert_eq!(
        seen,
        [
            (EventKind::JobCreated, Status::Pending),
            (EventKind::JobUpdate, Status::InProgress),
            (EventKind::JobFailed, Status::Failed),
        ]
    );

    // Cancelling a failed job is a conflict; retrying runs it again.
    let (status, _, body) = send(
        app.clone(),
        post(&format!("/api/jobs/{job_id}/cancel"), Some(ADMIN_KEY), None),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["status"], 409);
    assert_eq!(body["error"]["details"]["status"], "failed");
    let (status, _, body) = send(
        app.clone(),
        post(&format!("/api/jobs/{job_id}/retry"), Some(ADMIN_KEY), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "pending");
    loop {
        let event = next_event(&mut events, &job_id).await;
        if event.kind == EventKind::JobFailed {
            assert_eq!(event.job.attempts, 2);
            break;
        }
    }
    let (status, _, body) = send(app, get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "failed");
    assert_eq!(body["data"]["attempts"], 2);
}

#[tokio::test]
async fn a_job_with_channels_gets_one_piece_of_content_per_channel_from_the_provider() {
    let (state, _db, _dir) = state().await;
    load_local(&state).await;
    state.jobs.start(&state).await.expect("the workers start");
    let mut events = state.jobs.subscribe();
    let app = crate::app(state.clone());
    let (status, _, body) = send(
        app.clone(),
        post(
            "/api/jobs",
            Some(ADMIN_KEY),
            Some(json!({"prompt": "Announce the spring sale", "document_id": "doc-9", "channels": ["email", "website"]})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job_id = body["data"]["job_id"].as_str().expect("an id").to_string();
    let done = loop {
        let event = next_event(&mut events, &job_id).await;
        assert_ne!(event.kind, EventKind::JobFailed, "{:?}", event.job.error);
        if event.kind == EventKind::JobCompleted {
            break event.job;
        }
    };
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.document_id.as_deref(), Some("doc-9"));
    assert_eq!(done.provider.as_deref(), Some("local"));
    let results = done.results.expect("results");
    let mut tokens = 0;
    for channel in ["email", "website"] {
        let piece = &results[channel];
        assert!(
            piece["content"].as_str().is_some_and(|c| !c.is_empty()),
            "{results}"
        );
        assert_eq!(piece["provider"], "local");
        assert_eq!(piece["model"], done.model.clone().expect("a model"));
        tokens += piece["tokens_used"].as_i64().expect("tokens");
    }
    assert_eq!(done.tokens_used, Some(tokens));
    assert!(done.processing_time.is_some_and(|s| s >= 0.0));

    let (status, headers, body) = send(app, get("/api/jobs?status=completed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["jobs"][0]["job_id"], job_id);
    assert_eq!(
        body["data"]["jobs"][0]["results"]["email"],
        results["email"]
    );
}

#[tokio::test]
async fn a_job_without_channels_gets_one_piece_of_content() {
    let (state, _db, _dir) = state().await;
    load_local(&state).await;
    state.jobs.start(&state).await.expect("the workers start");
    let mut events = state.jobs.subscribe();
    let new = NewJob::from_json(json!({"prompt": "What plugins are installed?"})).expect("valid");
    let job = state
        .jobs
        .create(&state.chat.providers, new)
        .await
        .expect("created");
    let done = loop {
        let event = next_event(&mut events, &job.job_id).await;
        if matches!(event.kind, EventKind::JobCompleted | EventKind::JobFailed) {
            break event.job;
        }
    };
    assert_eq!(done.status, Status::Completed, "{:?}", done.error);
    let results = done.results.expect("results");
    assert!(
        results["content"].as_str().is_some_and(|c| !c.is_empty()),
        "{results}"
    );
    assert_eq!(results["provider"], "local");
    assert_eq!(results["tokens_used"], done.tokens_used.expect("tokens"));
}

#[tokio::test]
async fn changing_jobs_needs_a_credential_and_answers_in_the_envelope() {
    let (state, _db, _dir) = state().await;
    let app = crate::app(state);
    for uri in [
        "/api/jobs",
        "/api/jobs/job-x/retry",
        "/api/jobs/job-x/cancel",
    ] {
        let (status, _, body) =
            send(app.clone(), post(uri, None, Some(json!({"prompt": "x"})))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["status"], 401);
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let (status, _, body) = send(app.clone(), get("/api/jobs")).await;
    assert_eq!(status, StatusCode::OK, "reading is open: {body}");
    assert_eq!(body["data"]["total"], 0, "nothing was created");
}

#[tokio::test]
async fn bad_job_requests_are_400s_and_unknown_jobs_404s_in_the_envelope() {
    let (state, _db, _dir) = state().await;
    let app = crate::app(state);
    for (body, field) in [
        (json!({}), "prompt"),
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": ["x"]}), "prompt"),
        (json!({"prompt": "x", "route": "no-such-route"}), "route"),
        (json!({"prompt": "x", "channels": [1]}), "channels"),
    ] {
        let (status, _, answer) = send(
            app.clone(),
            post("/api/jobs", Some(ADMIN_KEY), Some(body.clone())),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["success"], false);
        assert_eq!(answer["error"]["status"], 400);
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let malformed = Request::post("/api/jobs")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let (status, _, answer) = send(app.clone(), malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["success"], false);
    assert!(answer["error"]["message"].is_string(), "{answer}");

    for request in [
        get("/api/jobs/job-unknown"),
        post("/api/jobs/job-unknown/retry", Some(ADMIN_KEY), None),
        post("/api/jobs/job-unknown/cancel", Some(ADMIN_KEY), None),
    ] {
        let (status, _, answer) = send(app.clone(), request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["success"], false);
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("job-unknown")),
            "{answer}"
        );
    }
    let (status, _, answer) = send(app.clone(), get("/api/jobs?status=done")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "status");
    let (status, _, answer) = send(app, get("/ws/jobs")).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(answer["success"], false);
}

#[tokio::test]
async fn a_starting_node_takes_back_its_own_and_expired_jobs_but_never_a_live_node_s() {
    for db in testing::all().await {
        let config = JobsConfig::default();
        let providers = crate::providers::for_config(&crate::config::Config::default());
        let other = Jobs::new(db.db(), config, node("node-other"));
        let live = other
            .create(&providers, new_job("run by a live node"))
            .await
            .expect("created");
        let expired = other
            .create(&providers, new_job("run by a dead node"))
            .await
            .expect("created");
        let mine = other
            .create(&providers, new_job("run by my earlier life"))
            .await
            .expect("created");
        let now = clock::timestamp();
        store::claim_next(&db, &now, "node-other", &lease())
            .await
            .expect("claim");
        let past = clock::format(chrono::Utc::now() - chrono::Duration::seconds(1));
        store::claim_next(&db, &now, "node-dead", &past)
            .await
            .expect("claim");
        store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim");

        let restarted = Jobs::new(db.db(), config, node(NODE));
        let resumed = restarted.resume().await.expect("resumed");
        assert_eq!(
            resumed.requeued,
            vec![expired.job_id.clone(), mine.job_id.clone()]
        );
        let untouched = restarted.get(&live.job_id).await.expect("job");
        assert_eq!(
            untouched.status,
            Status::InProgress,
            "a live node's job stays its own"
        );

        // Later, on a running node, only expired leases are taken back, never its own.
        let again = store::claim_next(&db, &now, NODE, &lease())
            .await
            .expect("claim")
            .expect("a job");
        restarted.reclaim_expired().await.expect("reclaimed");
        assert_eq!(
            restarted.get(&again.job_id).await.expect("job").status,
            Status::InProgress
        );
        assert_eq!(
            restarted.get(&live.job_id).await.expect("job").status,
            Status::InProgress
        );
    }
}

#[tokio::test]
async fn a_renewal_fails_once_the_job_was_cancelled_elsewhere_or_taken_over() {
    for db in testing::all().await {
        let providers = crate::providers::for_config(&crate::config::Config::default());
        let a = Jobs::new(db.db(), JobsConfig::default(), node("node-a"));
        let b = Jobs::new(db.db(), JobsConfig::default(), node("node-b"));
        let job = a
            .create(&providers, new_job("cancelled on b"))
            .await
            .expect("created");
        let claimed = store::claim_next(&db, &clock::timestamp(), "node-a", &lease())
            .await
            .expect("claim")
            .expect("a job");
        assert!(
            store::renew(&db, &job.job_id, claimed.attempts, "node-a", &lease())
                .await
                .expect("renew")
        );
        assert!(
            !store::renew(&db, &job.job_id, claimed.attempts, "node-b", &lease())
                .await
                .expect("renew"),
            "only the owner renews"
        );
        b.cancel(&job.job_id)
            .await
            .expect("cancelled through node b");
        assert!(
            !store::renew(&db, &job.job_id, claimed.attempts, "node-a", &lease())
                .await
                .expect("renew"),
            "the owner learns of the cancel at its next renewal"
        );
    }
}
