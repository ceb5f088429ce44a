//! `POST /api/batch` and the OpenAPI document, over real HTTP.

use serde_json::json;

use super::support::start;

#[tokio::test]
async fn a_batch_runs_each_request_through_the_real_routes() {
    let fx = start(|_| {}).await;
    let (status, body) = fx
        .server
        .post(
            "/api/batch",
            &json!({"requests": [
                {"method": "GET", "path": "/api/dev/ping"},
                {"method": "POST", "path": "/api/chat/mama-bear",
                 "body": {"message": "hello", "session_id": "s-batch"}},
                {"method": "GET", "path": "/api/chat/sessions/s-batch"},
                {"method": "GET", "path": "/api/chat/sessions/none"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body
        .as_array()
        .expect("a bare array of results, as seed 000 reads it");
    assert_eq!(results[0]["data"]["status"], "pong");
    assert_eq!(results[1]["success"], true);
    assert_eq!(results[1]["data"]["session_id"], "s-batch");
    assert_eq!(
        results[2]["data"]["message_count"], 2,
        "requests run in order: the chat came first"
    );
    assert_eq!(results[3]["success"], false);
    assert_eq!(results[3]["status"], 404);
    assert!(
        results[3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("none"))
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_seed_routes() {
    let fx = start(|_| {}).await;
    let (status, doc) = fx.server.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/chat/mama-bear",
        "/api/chat/sessions",
        "/api/v1/scout_agent/projects/{project_name}/status",
        "/api/batch",
        "/api/mcp/servers",
        "/health",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}
