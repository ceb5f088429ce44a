//! Development tools (`/api/dev/*`): a ping, an echo of the request body, and what the
//! database looks like.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::clock;
use crate::db::DbInfo;
use crate::error::{ApiJson, ApiResult};
use crate::state::AppState;

/// Headers whose values the echo never repeats.
const SECRET_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/dev/ping", get(ping))
        .route("/api/dev/echo", post(echo))
        .route("/api/dev/database/info", get(database_info))
}

/// `GET /api/dev/ping` answer (fields alphabetical, as the seeds' body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Pong {
    /// Always `podplay-sanctuary`.
    service: &'static str,
    /// Always `pong`.
    status: &'static str,
    /// When (RFC 3339).
    timestamp: String,
    /// The server's version.
    version: &'static str,
}

/// Ping.
#[utoipa::path(
    get, path = "/api/dev/ping", tag = "dev",
    summary = "Ping",
    responses(
        (status = 200, description = "Pong", body = Pong),
    ),
)]
async fn ping() -> Json<Pong> {
    Json(Pong {
        service: "podplay-sanctuary",
        status: "pong",
        timestamp: clock::timestamp(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[utoipa::path(
    post, path = "/api/dev/echo", tag = "dev",
    summary = "Echoes the JSON body and the request headers",
    description = "Echoes the JSON body and the request headers (credentials redacted)",
    request_body(content = serde_json::Value, description = "Any JSON value: free-form, echoed back"),
    responses(
        (status = 200, description = "The echo", body = Echo),
        (status = 400, description = "Not JSON", body = crate::api::openapi::ErrorBody),
    ),
)]
async fn echo(headers: HeaderMap, ApiJson(body): ApiJson<Value>) -> Json<Echo> {
    Json(Echo {
        echo: body,
        headers: header_map(&headers),
        success: true,
        timestamp: clock::timestamp(),
    })
}

/// `POST /api/dev/echo` answer (fields alphabetical, as the seeds' body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct Echo {
    /// The JSON body sent: free-form, whatever the client sent.
    echo: Value,
    /// The request headers (lower-case names; credentials `[redacted]`).
    #[schema(value_type = HashMap<String, String>)]
    headers: Map<String, Value>,
    /// Always `true`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
}

/// `GET /api/dev/database/info`: [`DbInfo`] with a status and a timestamp.
#[derive(Serialize, ToSchema)]
pub struct DatabaseInfo {
    /// Always `success`.
    status: &'static str,
    /// The database.
    #[serde(flatten)]
    info: DbInfo,
    /// When (RFC 3339).
    timestamp: String,
}

#[utoipa::path(
    get, path = "/api/dev/database/info", tag = "dev",
    summary = "Database kind, location",
    description = "Database kind, location (no secrets), version, tables and row counts",
    responses(
        (status = 200, description = "Database facts", body = DatabaseInfo),
    ),
)]
async fn database_info(State(state): State<AppState>) -> ApiResult<Json<DatabaseInfo>> {
    Ok(Json(DatabaseInfo {
        status: "success",
        info: state.db.info().await?,
        timestamp: clock::timestamp(),
    }))
}

/// Request headers as a JSON object (lower-case names; repeated headers joined with `, `;
/// credentials replaced by `[redacted]`).
fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for name in headers.keys() {
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            "[redacted]".to_owned()
        } else {
            headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        map.insert(name.as_str().to_owned(), Value::String(value));
    }
    map
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;

    use super::*;
    use crate::api::test_support::{get, send, state};

    async fn app() -> (Router, crate::db::testing::TestDb, tempfile::TempDir) {
        let (state, db, dir) = state().await;
        (routes().with_state(state), db, dir)
    }

    fn post_json(uri: &str, body: &str) -> Request<Body> {
        Request::post(uri)
            .header("content-type", "application/json")
            .header("x-requested-with", "XMLHttpRequest")
            .header("authorization", "Bearer s3cret")
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    #[tokio::test]
    async fn ping_answers_pong_with_the_service_and_version() {
        let (app, _db, _dir) = app().await;
        let (status, _, body) = send(app, get("/api/dev/ping")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "pong");
        assert_eq!(body["service"], "podplay-sanctuary");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert!(body["timestamp"].is_string());
    }

    #[tokio::test]
    async fn echo_returns_the_body_and_headers_but_not_credentials() {
        let (app, _db, _dir) = app().await;
        let sent = json!({"message": "hello", "nested": {"n": [1, 2.5, null, true]}});
        let (status, _, body) = send(app, post_json("/api/dev/echo", &sent.to_string())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["success"], true);
        assert_eq!(body["echo"], sent);
        assert!(body["timestamp"].is_string());
        assert_eq!(body["headers"]["content-type"], "application/json");
        assert_eq!(body["headers"]["x-requested-with"], "XMLHttpRequest");
        assert_eq!(body["headers"]["authorization"], "[redacted]");
        assert!(!body.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn echo_accepts_any_json_value() {
        let (app, _db, _dir) = app().await;
        for sent in [json!([1, "two"]), json!("text"), json!(42), json!(null)] {
            let (status, _, body) =
                send(app.clone(), post_json("/api/dev/echo", &sent.to_string())).await;
            assert_eq!(status, StatusCode::OK, "{sent}");
            assert_eq!(body["echo"], sent);
        }
    }

    #[tokio::test]
    async fn echo_of_malformed_json_is_a_400_in_the_seed_body() {
        let (app, _db, _dir) = app().await;
        let (status, _, body) = send(app, post_json("/api/dev/echo", "{\"a\":")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["success"], false);
        assert!(body["message"].is_string());
    }

    #[tokio::test]
    async fn database_info_shows_the_kind_tables_and_counts() {
        let (state, db, _dir) = state().await;
        db.kv_set("time", "k", "v").await.expect("set");
        let app = routes().with_state(state);
        let (status, _, body) = send(app, get("/api/dev/database/info")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "success");
        assert_eq!(body["kind"], db.kind());
        assert!(body["location"].is_string());
        let tables = body["tables"].as_array().expect("tables");
        let kv = tables
            .iter()
            .find(|t| t["name"] == "plugin_kv")
            .expect("plugin_kv listed");
        assert_eq!(kv["rows"], 1);
    }
}
