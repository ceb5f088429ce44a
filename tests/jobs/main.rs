//! Content-generation jobs end to end, against the real `sanctuary` binary: created over
//! HTTP with the admin key, run by real provider plugins (the offline `local` one, or
//! `openai-compatible` against a local mock of OpenAI's API that can fail or hang),
//! watched over `/ws/jobs` and Socket.IO, listed, retried and cancelled, and resumed after
//! the server is killed in the middle of one.

mod server;

use std::collections::BTreeSet;

use sanctuary_test_support::mocks::{Behavior, Mock, USAGE, Vendor};
use serde_json::{Value, json};
use server::{ADMIN_KEY, Install, JobsExt as _, Server};

/// A config with the `remote` route served by `openai-compatible` pointed at `mock`, and
/// `extra` appended.
fn remote_config(mock: &Mock, extra: &str) -> String {
    format!(
        r#"
[plugins.openai-compatible]
base_url = "{}/v1"
default_model = "gpt-mock"
models = ["gpt-mock"]

[routes.remote]
chain = [{{ provider = "openai-compatible" }}]
retries = 0
{extra}
"#,
        mock.base_url()
    )
}

/// Waits until the mock has received `count` requests.
async fn mock_hit(mock: &Mock, count: usize, server: &Server) {
    let reached = tokio::time::timeout(server::PATIENCE, async {
        while mock.hits() < count {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the upstream never got request {count}; log:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn a_job_is_created_over_http_and_watched_to_its_content_over_the_websocket_and_socket_io() {
    let install = Install::new("");
    let server = install.start().await;
    let mut socket = server.jobs_socket().await;
    let mut socket_io = server.socket_io().await;

    // Creating needs a credential; reading does not.
    let (status, body) = server
        .post("/api/jobs", None, Some(&json!({"prompt": "Hello"})))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["status"], 401);

    let job_id = server
        .create_job(&json!({
            "prompt": "Announce our spring sale",
            "document_id": "doc-42",
            "channels": ["email", "website"],
        }))
        .await;

    let created = socket.next_about(&job_id).await;
    assert_eq!(created["type"], "job_created");
    assert_eq!(created["job"]["status"], "pending");
    assert_eq!(created["job"]["document_id"], "doc-42");
    assert_eq!(created["job"]["channels"], json!(["email", "website"]));
    assert!(created["timestamp"].is_string());
    let started = socket.next_about(&job_id).await;
    assert_eq!(started["type"], "job_update");
    assert_eq!(started["job"]["status"], "in_progress");
    assert_eq!(started["job"]["attempts"], 1);
    let completed = socket.next_about(&job_id).await;
    assert_eq!(completed["type"], "job_completed", "{completed}");
    let job = &completed["job"];
    assert_eq!(job["status"], "completed");
    assert_eq!(job["provider"], "local");
    for channel in ["email", "website"] {
        let piece = &job["results"][channel];
        assert!(
            piece["content"].as_str().is_some_and(|c| !c.is_empty()),
            "{job}"
        );
        assert_eq!(piece["provider"], "local");
        assert!(piece["model"].is_string());
        assert!(piece["tokens_used"].is_u64());
    }
    assert!(job["completed_at"].is_string() && job["started_at"].is_string());
    assert!(job["processing_time"].as_f64().is_some_and(|s| s >= 0.0));

    // Socket.IO clients hear the same events, `{job, timestamp}`.
    let mut names = Vec::new();
    while names.last().map(String::as_str) != Some("job_completed") {
        let (name, payload) = socket_io.next_event().await;
        if name.starts_with("job_") {
            assert_eq!(payload["job"]["job_id"], job_id, "{payload}");
            assert!(payload["timestamp"].is_string());
            names.push(name);
        }
    }
    assert_eq!(names, ["job_created", "job_update", "job_completed"]);

    // Listed, and filtered by status.
    let (status, headers, body) = server.get("/api/jobs?status=completed&limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["jobs"][0]["job_id"], job_id);
    let (_, headers, body) = server.get("/api/jobs?status=failed").await;
    assert_eq!(headers["x-total-count"], "0");
    assert_eq!(body["data"]["jobs"], json!([]));
    let (status, _, body) = server.get("/api/jobs?status=finished").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"]["field"], "status");
}

#[tokio::test]
async fn a_failed_job_is_retried_and_a_running_one_cancelled() {
    let mock = Mock::start(Vendor::OpenAi, "Spring sale: everything half off").await;
    mock.set(Behavior::Fail(500));
    let install = Install::new(&remote_config(&mock, ""));
    let server = install.start().await;
    let mut socket = server.jobs_socket().await;

    // The provider fails: the job fails with its error.
    let job_id = server
        .create_job(
            &json!({"prompt": "Announce the sale", "route": "remote", "channels": ["email"]}),
        )
        .await;
    let failed = loop {
        let event = socket.next_about(&job_id).await;
        if event["type"] == "job_failed" {
            break event["job"].clone();
        }
        assert_ne!(event["type"], "job_completed", "{event}");
    };
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().expect("an error");
    assert!(error.contains("email") && error.contains("500"), "{error}");
    let asked = mock.bodies();
    assert!(
        asked[0].to_string().contains("email")
            && asked[0].to_string().contains("Announce the sale"),
        "the prompt asks for the channel: {asked:?}"
    );

    // A failed job cannot be cancelled, but it can be retried.
    let (status, body) = server
        .post(&format!("/api/jobs/{job_id}/cancel"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["status"], 409);
    mock.set(Behavior::Answer);
    let (status, body) = server
        .post(&format!("/api/jobs/{job_id}/retry"), None, None)
        .await;
    assert_eq!(status, 401, "retrying needs a credential: {body}");
    let (status, body) = server
        .post(&format!("/api/jobs/{job_id}/retry"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "pending");
    assert!(body["data"]["error"].is_null());
    let done = loop {
        let event = socket.next_about(&job_id).await;
        if event["type"] == "job_completed" {
            break event["job"].clone();
        }
        assert_ne!(event["type"], "job_failed", "{event}");
    };
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["results"]["email"]["content"], mock.reply());
    assert_eq!(done["results"]["email"]["provider"], "openai-compatible");
    assert_eq!(done["results"]["email"]["model"], "gpt-mock");
    assert_eq!(done["tokens_used"], USAGE.0 + USAGE.1);
    let (status, _) = server
        .post(&format!("/api/jobs/{job_id}/retry"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 409, "a completed job is not retried");

    // A job whose provider is still working is cancelled, and its call dropped.
    mock.set(Behavior::Hang);
    let hits = mock.hits();
    let slow = server
        .create_job(&json!({"prompt": "Take your time", "route": "remote"}))
        .await;
    mock_hit(&mock, hits + 1, &server).await;
    let (status, body) = server
        .post(&format!("/api/jobs/{slow}/cancel"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    let cancelled = loop {
        let event = socket.next_about(&slow).await;
        if event["job"]["status"] == "cancelled" {
            break event;
        }
    };
    assert_eq!(cancelled["type"], "job_update");
    assert_eq!(server.job(&slow).await["status"], "cancelled");
    let (status, _) = server
        .post(&format!("/api/jobs/{slow}/cancel"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 409, "already cancelled");

    // Retried, it runs to completion.
    mock.set(Behavior::Answer);
    let (status, _) = server
        .post(&format!("/api/jobs/{slow}/retry"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200);
    let job = server
        .wait_for_job(&slow, |job| job["status"] == "completed")
        .await;
    assert_eq!(job["results"]["content"], mock.reply());
    assert_eq!(job["attempts"], 2);
}

#[tokio::test]
async fn a_subscribed_client_hears_only_its_jobs_and_bad_messages_get_an_error() {
    let mock = Mock::start(Vendor::OpenAi, "unused").await;
    mock.set(Behavior::Fail(503));
    let install = Install::new(&remote_config(&mock, ""));
    let server = install.start().await;
    let mut narrow = server.jobs_socket().await;
    let mut everything = server.jobs_socket().await;

    // Bad messages are answered with an error; the socket stays usable.
    for bad in [
        "not json",
        r#"{"type":"shout","job_id":"x"}"#,
        r#"{"type":"subscribe"}"#,
    ] {
        narrow.send(bad).await;
        let reply = narrow.next().await;
        assert_eq!(reply["type"], "error", "{bad}: {reply}");
        assert!(reply["message"].is_string());
    }

    let first = server
        .create_job(&json!({"prompt": "first", "route": "remote"}))
        .await;
    server
        .wait_for_job(&first, |job| job["status"] == "failed")
        .await;
    // Until now `narrow` subscribed to nothing, so it heard `first` (and nothing else).
    for expected in ["job_created", "job_update", "job_failed"] {
        let event = narrow.next().await;
        assert_eq!(event["type"], expected, "{event}");
        assert_eq!(event["job"]["job_id"], first);
    }
    narrow
        .send(&json!({"type": "subscribe", "job_id": first}).to_string())
        .await;
    let ack = narrow.next().await;
    assert_eq!(ack["type"], "subscribed", "{ack}");
    assert_eq!(ack["job_id"], first);

    // Another job runs to its end: only the unsubscribed client hears it.
    let second = server
        .create_job(&json!({"prompt": "second", "route": "remote"}))
        .await;
    let mut heard = BTreeSet::new();
    loop {
        let event = everything.next().await;
        if event["job"]["job_id"] == second {
            heard.insert(event["type"].as_str().unwrap_or_default().to_string());
            if event["type"] == "job_failed" {
                break;
            }
        }
    }
    assert!(heard.contains("job_created"), "{heard:?}");

    // The subscribed client's next message is about its own job, not the other one.
    let (status, _) = server
        .post(&format!("/api/jobs/{first}/retry"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200);
    let event = narrow.next().await;
    assert_eq!(event["job"]["job_id"], first, "{event}");
    assert_eq!(event["type"], "job_update");
    assert_eq!(event["job"]["status"], "pending");
}

#[tokio::test]
async fn a_job_running_when_the_server_is_killed_is_resumed_after_a_restart() {
    let mock = Mock::start(Vendor::OpenAi, "Written after the restart").await;
    mock.set(Behavior::Hang);
    let install = Install::new(&remote_config(&mock, "[jobs]\nconcurrency = 1\n"));
    let server = install.start().await;
    let mut socket = server.jobs_socket().await;

    let running = server
        .create_job(&json!({"prompt": "Survive a crash", "route": "remote"}))
        .await;
    loop {
        let event = socket.next_about(&running).await;
        if event["job"]["status"] == "in_progress" {
            break;
        }
    }
    mock_hit(&mock, 1, &server).await;
    // With one worker, busy, a second job waits.
    let waiting = server
        .create_job(&json!({"prompt": "Wait your turn", "route": "remote"}))
        .await;
    assert_eq!(server.job(&waiting).await["status"], "pending");
    assert_eq!(server.job(&running).await["status"], "in_progress");

    server.kill().await;
    mock.set(Behavior::Answer);
    let server = install.start().await;

    let resumed = server
        .wait_for_job(&running, |job| job["status"] == "completed")
        .await;
    assert_eq!(resumed["attempts"], 2, "{resumed}");
    assert_eq!(resumed["results"]["content"], mock.reply());
    assert_eq!(resumed["provider"], "openai-compatible");
    let next: Value = server
        .wait_for_job(&waiting, |job| job["status"] == "completed")
        .await;
    assert_eq!(next["attempts"], 1);
    // The interrupted job kept its place: it ran before the one that waited.
    assert!(
        next["started_at"].as_str() >= resumed["completed_at"].as_str(),
        "{resumed}\n{next}"
    );
    let (_, headers, _) = server.get("/api/jobs").await;
    assert_eq!(
        headers["x-total-count"], "2",
        "nothing lost, nothing doubled"
    );
}

#[tokio::test]
async fn a_server_with_a_job_running_and_a_job_socket_open_stops_on_sigterm_and_resumes_the_job() {
    let mock = Mock::start(Vendor::OpenAi, "Written after a clean stop").await;
    mock.set(Behavior::Hang);
    let install = Install::new(&remote_config(&mock, ""));
    let server = install.start().await;
    let mut socket = server.jobs_socket().await;
    let job_id = server
        .create_job(&json!({"prompt": "Outlive a deploy", "route": "remote"}))
        .await;
    loop {
        let event = socket.next_about(&job_id).await;
        if event["job"]["status"] == "in_progress" {
            break;
        }
    }
    mock_hit(&mock, 1, &server).await;

    // Neither the worker stuck in its provider call nor the open socket holds the stop up.
    server.terminate().await;
    drop(socket);
    mock.set(Behavior::Answer);
    let server = install.start().await;
    let job = server
        .wait_for_job(&job_id, |job| job["status"] == "completed")
        .await;
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["results"]["content"], mock.reply());
}
