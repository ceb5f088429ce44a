//! What travels between running nodes: a Socket.IO room's broadcasts, job events, route
//! bindings and chat-cache clears made through one node reach the other node's clients.

use sanctuary_test_support::mocks::{Mock, Vendor};
use serde_json::{Value, json};

use super::{Site, admin, chat, create_job, followed, remote_config};

#[tokio::test]
async fn a_terminal_room_and_job_events_span_the_nodes() {
    let Some(site) = Site::new("a_terminal_room_and_job_events_span_the_nodes", "").await else {
        return;
    };
    let (a, b) = site.start_two().await;

    // A member of terminal room X on B, and a client on B in no room.
    let session = format!("cluster-{}", uuid::Uuid::new_v4().simple());
    let mut member_on_b = b.socket_io().await;
    member_on_b
        .emit("join_terminal", json!({ "session_id": session }))
        .await;
    member_on_b.wait_for("terminal_joined").await;
    let mut outsider_on_b = b.socket_io().await;

    // A member on A runs a command in room X.
    let mut member_on_a = a.socket_io().await;
    member_on_a
        .emit("join_terminal", json!({ "session_id": session }))
        .await;
    member_on_a.wait_for("terminal_joined").await;
    let command = r#"time.current_time {"timezone": "UTC"}"#;
    member_on_a
        .emit(
            "terminal_input",
            json!({ "session_id": session, "command": command, "timestamp": "2026-01-01T00:00:00Z" }),
        )
        .await;
    let here = member_on_a.wait_for("terminal_output").await;
    assert_eq!(here["success"], true, "{here}");
    assert!(here["output"].to_string().contains("UTC"), "{here}");
    let there = member_on_b.wait_for("terminal_output").await;
    assert_eq!(
        there, here,
        "the member on B saw the output of the command run on A"
    );

    // The client on B outside the room saw nothing of it: everything it got before the
    // answer to its own later event.
    outsider_on_b
        .emit("test_event", json!({ "message": "after" }))
        .await;
    let seen = outsider_on_b.events_until("test_response").await;
    assert!(
        seen.iter().all(|(name, _)| name != "terminal_output"),
        "{seen:?}"
    );

    // A job created on A: a /ws/jobs client and a Socket.IO client on B hear each of its
    // events once, in order.
    let mut jobs_on_b = b.jobs_socket().await;
    let mut socket_on_b = b.socket_io().await;
    let job_id = create_job(&a, json!({ "prompt": "Announce the two-node launch" })).await;
    let mut heard = Vec::new();
    while heard.last().map(String::as_str) != Some("job_completed") {
        let event = jobs_on_b.next_about(&job_id).await;
        heard.push(event["type"].as_str().unwrap_or_default().to_owned());
        assert!(heard.len() <= 3, "{heard:?}: {event}");
    }
    assert_eq!(heard, ["job_created", "job_update", "job_completed"]);
    let mut named = Vec::new();
    while named.last().map(String::as_str) != Some("job_completed") {
        let (name, payload) = socket_on_b.next_event().await;
        if name.starts_with("job_") && payload["job"]["job_id"] == job_id.as_str() {
            named.push(name);
        }
    }
    assert_eq!(named, ["job_created", "job_update", "job_completed"]);
}

#[tokio::test]
async fn a_route_bound_and_a_cache_cleared_on_one_node_hold_on_the_other() {
    let mock = Mock::start(Vendor::OpenAi, "answered by the route bound on A").await;
    let config = format!("{}\n[cache]\nenabled = true\n", remote_config(&mock));
    let Some(site) = Site::new(
        "a_route_bound_and_a_cache_cleared_on_one_node_hold_on_the_other",
        &config,
    )
    .await
    else {
        return;
    };
    let (a, b) = site.start_two().await;

    // B answers a repeated question from its cache.
    let first = chat(&b, "What is cached on B?").await;
    assert_eq!(first["metadata"]["cached"], false, "{first}");
    assert_eq!(first["metadata"]["provider"], "local", "{first}");
    let second = chat(&b, "What is cached on B?").await;
    assert_eq!(second["metadata"]["cached"], true, "{second}");

    // Cleared through A: B's cache is empty, and B asks its provider again.
    let (status, body) = admin(&a, "DELETE", "/api/cache", None).await;
    assert_eq!(status, 200, "{body}");
    followed("a cache clear on A", [&a, &b], || async {
        b.get_json("/api/cache/stats").await["data"]["entries"] == 0
    })
    .await;
    let third = chat(&b, "What is cached on B?").await;
    assert_eq!(third["metadata"]["cached"], false, "{third}");

    // Invalidated by route through A: likewise.
    assert_eq!(
        chat(&b, "What is cached on B?").await["metadata"]["cached"],
        true
    );
    let (status, body) = admin(
        &a,
        "POST",
        "/api/cache/invalidate",
        Some(json!({ "route": "mama-bear" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    followed("a cache invalidation on A", [&a, &b], || async {
        b.get_json("/api/cache/stats").await["data"]["entries"] == 0
    })
    .await;

    // mama-bear bound on A to the mock's provider: B serves it from there.
    let (status, body) = admin(
        &a,
        "PUT",
        "/api/providers/routes/mama-bear",
        Some(json!({ "chain": [{ "provider": "openai-compatible" }], "retries": 0 })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let route_on_b = || async {
        let status = b.get_json("/api/providers").await;
        status["routes"]
            .as_array()
            .and_then(|routes| routes.iter().find(|r| r["name"] == "mama-bear").cloned())
            .unwrap_or(Value::Null)
    };
    followed("a route bound on A", [&a, &b], || async {
        route_on_b().await["source"] == "api"
    })
    .await;
    let answer = chat(&b, "Who answers on B now?").await;
    assert_eq!(
        answer["metadata"]["provider"], "openai-compatible",
        "{answer}"
    );
    assert_eq!(answer["response"], mock.reply(), "{answer}");
    assert_eq!(mock.hits(), 1);

    // Unbound on A: B is back to the built-in chain.
    let (status, body) = admin(&a, "DELETE", "/api/providers/routes/mama-bear", None).await;
    assert_eq!(status, 200, "{body}");
    followed("a route unbound on A", [&a, &b], || async {
        route_on_b().await["source"] != "api"
    })
    .await;
    let answer = chat(&b, "Who answers on B after the unbinding?").await;
    assert_eq!(answer["metadata"]["provider"], "local", "{answer}");
    assert_eq!(mock.hits(), 1, "B no longer calls the route bound on A");
}
