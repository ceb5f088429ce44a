//! `GET /`: the seeds' connectivity check.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(root))
}

/// `GET /` answer (fields in the order the seeds' body always had: alphabetical).
#[derive(Debug, Serialize, ToSchema)]
pub struct Running {
    /// `Podplay Sanctuary Backend is running`.
    message: &'static str,
    /// Always `success`.
    status: &'static str,
    /// When (RFC 3339).
    timestamp: String,
    /// The server's version.
    version: &'static str,
}

/// Connectivity check.
#[utoipa::path(
    get, path = "/", tag = "health",
    summary = "Connectivity check",
    responses(
        (status = 200, description = "Running", body = Running),
    ),
)]
async fn root() -> Json<Running> {
    Json(Running {
        message: "Podplay Sanctuary Backend is running",
        status: "success",
        timestamp: clock::timestamp(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::api::test_support::{get, send, state};

    #[tokio::test]
    async fn root_says_the_backend_is_running() {
        let (state, _db, _dir) = state().await;
        let app = routes().with_state(state);
        let (status, headers, body) = send(app, get("/")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Podplay Sanctuary Backend is running");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert!(body["timestamp"].is_string());
    }
}
