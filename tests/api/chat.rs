//! Chat over HTTP and Socket.IO, and sessions in the database.

use serde_json::{Value, json};

use super::support::{start, start_in};

#[tokio::test]
async fn chat_over_http_answers_in_the_seed_shape_and_sends_the_history_along() {
    let fx = start(|_| {}).await;
    let server = &fx.server;
    let (status, first) = server
        .post(
            "/api/chat/mama-bear",
            &json!({"message": "Which plugins are installed?", "user_id": "nathan", "session_id": "s-http"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["success"], true);
    assert!(first["response"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(first["session_id"], "s-http");
    assert_eq!(first["user_id"], "nathan");
    assert!(first["timestamp"].is_string());
    let meta = &first["metadata"];
    assert!(
        meta["model_used"].as_str().is_some_and(|m| !m.is_empty()),
        "{meta}"
    );
    assert!(
        meta["processing_time"].as_f64().is_some_and(|t| t >= 0.0),
        "{meta}"
    );
    assert_eq!(meta["provider"], "local");
    let prompt = meta["prompt_tokens"].as_u64().expect("prompt tokens");
    let completion = meta["completion_tokens"]
        .as_u64()
        .expect("completion tokens");
    assert!(prompt > 0 && completion > 0, "{meta}");
    assert_eq!(meta["tokens_used"].as_u64(), Some(prompt + completion));

    // The second turn carries the first one: the provider counts more prompt tokens.
    let (status, second) = server
        .post(
            "/api/chat/mama-bear",
            &json!({"message": "Which plugins are installed?", "session_id": "s-http"}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["user_id"], "nathan", "the session's user");
    let second_prompt = second["metadata"]["prompt_tokens"]
        .as_u64()
        .expect("tokens");
    assert!(
        second_prompt > prompt + completion / 2,
        "history was sent: {prompt} then {second_prompt}"
    );

    let (status, session) = server.get("/api/chat/sessions/s-http").await;
    assert_eq!(status, 200);
    let roles: Vec<&str> = session["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(session["messages"][1]["content"], first["response"]);
    assert_eq!(session["title"], "Which plugins are installed?");

    let (_, sessions) = server.get("/api/chat/sessions").await;
    let listed = sessions
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "s-http"))
        .expect("listed");
    assert_eq!(listed["metadata"]["message_count"], 4);
    assert!(listed["metadata"]["last_message_at"].is_string());
}

#[tokio::test]
async fn the_vertex_garden_route_answers_the_same_shape_and_bad_requests_are_400() {
    let fx = start(|_| {}).await;
    let server = &fx.server;
    let (status, body) = server
        .post(
            "/api/chat/vertex-garden/chat",
            &json!({"message": "Hello, Vertex AI!"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["route"], "vertex-garden");
    assert_eq!(body["user_id"], "anonymous");
    assert!(body["session_id"].as_str().is_some_and(|s| !s.is_empty()));

    for bad in [json!({}), json!({"message": ""}), json!({"message": ["x"]})] {
        let (status, body) = server.post("/api/chat/mama-bear", &bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["success"], false);
        assert!(body["error"].is_string() && body["message"].is_string());
    }
}

#[tokio::test]
async fn chat_over_socket_io_streams_ai_progress_then_the_response() {
    let fx = start(|_| {}).await;
    let mut client = fx.server.socket().await;
    client
        .emit(
            "mama_bear_chat",
            json!({
                "message": "What time is it?",
                "session_id": "s-sock",
                "user_id": "nathan",
                "timestamp": "2024-01-01T00:00:00Z",
            }),
        )
        .await;
    let events = client.events_until("mama_bear_response").await;
    let (last, response) = events.last().expect("events");
    assert_eq!(last, "mama_bear_response");
    // The seed's ChatService renders `data.message || data.response`: both are the answer.
    assert_eq!(response["message"], response["response"]);
    assert_eq!(response["user_message"], "What time is it?");
    assert_eq!(response["session_id"], "s-sock");
    assert!(
        response["metadata"]["tokens_used"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    let answer = response["response"].as_str().expect("a response");

    let chunks: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == "ai_progress")
        .map(|(_, data)| data)
        .collect();
    assert!(!chunks.is_empty(), "the answer was streamed: {events:?}");
    for (n, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["session_id"], "s-sock");
        assert_eq!(chunk["index"], n as u64);
    }
    let streamed: String = chunks.iter().filter_map(|c| c["chunk"].as_str()).collect();
    assert_eq!(streamed, answer, "the chunks add up to the answer");

    // The same chat path as HTTP: the turn is stored.
    let (status, session) = fx.server.get("/api/chat/sessions/s-sock").await;
    assert_eq!(status, 200);
    assert_eq!(session["message_count"], 2);
}

#[tokio::test]
async fn a_malformed_socket_chat_gets_an_error_and_the_socket_stays_up() {
    let fx = start(|_| {}).await;
    let mut client = fx.server.socket().await;
    client.emit("mama_bear_chat", json!("just text")).await;
    let error = client.wait_for("error").await;
    assert_eq!(error["event"], "mama_bear_chat");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("mama_bear_chat"))
    );
    let chat_error = client.wait_for("chat_error").await;
    assert!(chat_error["error"].is_string());
    assert_eq!(chat_error["code"], "invalid_request");

    client
        .emit(
            "mama_bear_chat",
            json!({"message": "", "session_id": "s-x"}),
        )
        .await;
    let chat_error = client.wait_for("chat_error").await;
    assert_eq!(chat_error["session_id"], "s-x");
    assert_eq!(chat_error["error"], "message must not be empty");
    assert_eq!(chat_error["message"], "message must not be empty");

    client.emit("test_event", json!({"still": "here"})).await;
    let reply = client.wait_for("test_response").await;
    assert_eq!(reply["data"]["still"], "here");
}

#[tokio::test]
async fn sessions_survive_a_restart_over_the_same_data_directory() {
    let data = tempfile::TempDir::new().expect("tempdir");
    let server = start_in(data.path(), |_| {}).await;
    let (status, _) = server
        .post(
            "/api/chat/mama-bear",
            &json!({"message": "Remember me", "session_id": "persist", "user_id": "nathan"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, created) = server
        .post(
            "/api/chat/sessions",
            &json!({"title": "Kept", "user_id": "nathan"}),
        )
        .await;
    assert_eq!(status, 201);
    let created_id = created["id"].as_str().expect("id").to_string();
    server.stop();

    let server = start_in(data.path(), |_| {}).await;
    let (status, session) = server.get("/api/chat/sessions/persist").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user_id"], "nathan");
    assert_eq!(session["messages"][0]["content"], "Remember me");
    assert_eq!(session["messages"].as_array().map(Vec::len), Some(2));
    let (status, kept) = server
        .get(&format!("/api/chat/sessions/{created_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(kept["title"], "Kept");

    let (status, _) = server
        .post(
            "/api/chat/mama-bear",
            &json!({"message": "Still there?", "session_id": "persist"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, session) = server.get("/api/chat/sessions/persist").await;
    assert_eq!(session["message_count"], 4);
    server.stop();
}
