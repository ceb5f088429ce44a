//! `/api/v1/scout_agent/*`: the configured projects and their status as the scout-check
//! plugins see them ([`crate::scout`]), and the machine's figures.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::api::openapi::ErrorBody;
use crate::error::{ApiError, ApiResult};
use crate::scout::{self, ProjectStatus, ProjectSummary, SystemMetrics};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/scout_agent/projects", get(projects))
        .route(
            "/api/v1/scout_agent/projects/{project_name}/status",
            get(project_status),
        )
        .route("/api/v1/scout_agent/system/metrics", get(system_metrics))
}

/// Every configured project with its status and dependencies.
#[utoipa::path(
    get, path = "/api/v1/scout_agent/projects", tag = "scout",
    responses((status = 200, description = "The seeds' Project list", body = Vec<ProjectSummary>))
)]
pub async fn projects(State(state): State<AppState>) -> Json<Vec<ProjectSummary>> {
    Json(scout::projects(&state).await)
}

/// One project's status, merged from every scout check.
#[utoipa::path(
    get, path = "/api/v1/scout_agent/projects/{project_name}/status", tag = "scout",
    params(("project_name" = String, Path, description = "A configured project's name")),
    responses(
        (status = 200, description = "The seeds' ProjectStatus plus `checks` and `notes`", body = ProjectStatus),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn project_status(
    State(state): State<AppState>,
    Path(project_name): Path<String>,
) -> ApiResult<Json<ProjectStatus>> {
    let status = scout::status(&state, &project_name)
        .await
        .map_err(|e| match e {
            scout::Error::UnknownProject(_) => ApiError::not_found(e.to_string()),
        })?;
    Ok(Json(status))
}

/// CPU, memory, disk and network figures of the host machine.
#[utoipa::path(
    get, path = "/api/v1/scout_agent/system/metrics", tag = "scout",
    responses((status = 200, description = "Machine figures", body = SystemMetrics))
)]
pub async fn system_metrics(State(state): State<AppState>) -> ApiResult<Json<SystemMetrics>> {
    let sampler = state.plugins.system().clone();
    Ok(Json(scout::system_metrics(sampler).await?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use serde_json::Value;

    use super::*;
    use crate::api::test_support::{get, send, state};
    use crate::config::ProjectConfig;

    async fn app_with_projects(
        projects: Vec<ProjectConfig>,
    ) -> (Router, crate::api::test_support::Guards) {
        let (mut state, db, dir) = state().await;
        let mut config = (*state.config).clone();
        config.scout.projects = projects;
        state.config = Arc::new(config);
        (routes().with_state(state), (db, dir))
    }

    #[tokio::test]
    async fn projects_are_listed_in_the_seed_shape() {
        let here = tempfile::tempdir().expect("tempdir");
        let (app, _guards) = app_with_projects(vec![
            ProjectConfig {
                name: "web".into(),
                path: here.path().to_path_buf(),
            },
            ProjectConfig {
                name: "gone".into(),
                path: here.path().join("missing"),
            },
        ])
        .await;
        let (status, _, body) = send(app, get("/api/v1/scout_agent/projects")).await;
        assert_eq!(status, StatusCode::OK);
        let projects = body.as_array().expect("an array");
        assert_eq!(projects.len(), 2);
        let web = &projects[0];
        assert_eq!(web["name"], "web");
        // No scout plugin is loaded in this state: nothing is known.
        assert_eq!(web["status"], "inactive");
        assert_eq!(web["health_score"], 0.0);
        assert_eq!(web["dependencies"], Value::Array(vec![]));
        assert!(web["last_updated"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(projects[1]["status"], "error");
    }

    #[tokio::test]
    async fn a_project_status_has_every_seed_field() {
        let here = tempfile::tempdir().expect("tempdir");
        let (app, _guards) = app_with_projects(vec![ProjectConfig {
            name: "web".into(),
            path: here.path().to_path_buf(),
        }])
        .await;
        let (status, _, body) = send(app, get("/api/v1/scout_agent/projects/web/status")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["name"], "web");
        assert_eq!(body["git"]["branch"], "");
        assert_eq!(body["git"]["dirty"], false);
        assert_eq!(body["dependencies"]["outdated"], Value::Array(vec![]));
        assert_eq!(body["build"]["success"], false);
        assert_eq!(body["performance"]["cpu_usage"], 0.0);
        assert!(body["checks"].is_object());
    }

    #[tokio::test]
    async fn an_unknown_project_is_a_404_in_the_seed_body() {
        let (app, _guards) = app_with_projects(Vec::new()).await;
        let (status, _, body) = send(app, get("/api/v1/scout_agent/projects/nope/status")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["success"], false);
        assert!(body["message"].as_str().is_some_and(|m| m.contains("nope")));
    }

    #[tokio::test]
    async fn system_metrics_have_cpu_memory_disk_and_network() {
        let (app, _guards) = app_with_projects(Vec::new()).await;
        let (status, _, body) = send(app, get("/api/v1/scout_agent/system/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["cpu"]["cores"].as_u64().is_some_and(|c| c >= 1));
        assert_eq!(
            body["cpu"]["load_average"].as_array().map(Vec::len),
            Some(3)
        );
        assert!(
            body["memory"]["total_bytes"]
                .as_u64()
                .is_some_and(|t| t > 0)
        );
        assert!(body["disk"].is_array());
        assert!(body["network"]["received_bytes"].is_u64());
        assert!(body["timestamp"].is_string());
    }
}
