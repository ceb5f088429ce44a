//! Content-generation jobs (seed 001): `POST /api/jobs`, `GET /api/jobs?limit=&status=`
//! (`X-Total-Count` says how many match), `GET /api/jobs/{job_id}`,
//! `POST /api/jobs/{job_id}/retry` and `/cancel`, and the live WebSocket `GET /ws/jobs`.
//! Every answer is the seed-001 envelope `{success, data?, error?:{message, status,
//! details?}}`; creating, retrying and cancelling need the `jobs` scope. The work itself is
//! [`crate::jobs`].

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::{Require, scope};
use crate::error::{ApiError, ApiJson, Envelope, EnvelopeError, EnvelopeResult};
use crate::jobs::{self, Filter, Job, NewJob, Status};
use crate::state::AppState;

/// Jobs listed when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most jobs listed at once.
pub const MAX_LIMIT: i64 = 1000;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list).post(create))
        .route("/api/jobs/{job_id}", get(show))
        .route("/api/jobs/{job_id}/retry", post(retry))
        .route("/api/jobs/{job_id}/cancel", post(cancel))
        .route("/ws/jobs", get(websocket))
}

/// `GET /api/jobs` data.
#[derive(Debug, Serialize)]
pub struct JobList {
    /// The jobs, newest first.
    pub jobs: Vec<Job>,
    /// How many jobs match the filter in all.
    pub total: i64,
}

/// A job error in the envelope: 400 naming the field, 404, 409 naming the status.
fn envelope(err: jobs::Error) -> EnvelopeError {
    match err {
        jobs::Error::Invalid { field, message } => {
            EnvelopeError::bad_request(message).with_details(json!({ "field": field }))
        }
        jobs::Error::NotFound(_) => EnvelopeError::not_found(err.to_string()),
        jobs::Error::Conflict { status, .. } => {
            EnvelopeError::conflict(err.to_string()).with_details(json!({ "status": status }))
        }
        jobs::Error::Storage(_) => EnvelopeError::internal(err.into()),
    }
}

async fn create(
    admin: Result<Require<scope::Jobs>, ApiError>,
    State(state): State<AppState>,
    body: Result<ApiJson<Value>, ApiError>,
) -> Result<Response, EnvelopeError> {
    admin?;
    let ApiJson(body) = body?;
    let new = NewJob::from_json(body).map_err(envelope)?;
    let job = state
        .jobs
        .create(&state.providers, new)
        .await
        .map_err(envelope)?;
    Ok((StatusCode::CREATED, Envelope(job)).into_response())
}

async fn list(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, EnvelopeError> {
    let Query(query) = query.map_err(|e| EnvelopeError::bad_request(e.body_text()))?;
    let filter = filter(&query)?;
    let (jobs, total) = state.jobs.list(filter).await.map_err(envelope)?;
    let mut response = Envelope(JobList { jobs, total }).into_response();
    response.headers_mut().insert(
        HeaderName::from_static("x-total-count"),
        HeaderValue::from(total),
    );
    Ok(response)
}

/// `limit` (1 to [`MAX_LIMIT`]), `offset` and `status` from the query string.
fn filter(query: &HashMap<String, String>) -> Result<Filter, EnvelopeError> {
    let number = |name: &str, default: i64, max: i64| -> Result<i64, EnvelopeError> {
        let Some(text) = query.get(name).filter(|t| !t.is_empty()) else {
            return Ok(default);
        };
        let min = i64::from(name == "limit");
        text.parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                EnvelopeError::bad_request(format!(
                    "`{name}` must be a whole number from {min} to {max}, not {text:?}"
                ))
                .with_details(json!({ "field": name }))
            })
    };
    let status = match query.get("status").map(String::as_str) {
        None | Some("" | "all") => None,
        Some(name) => Some(Status::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            EnvelopeError::bad_request(format!(
                "unknown status {name:?}; expected one of {}",
                known.join(", ")
            ))
            .with_details(json!({ "field": "status" }))
        })?),
    };
    Ok(Filter {
        status,
        limit: number("limit", DEFAULT_LIMIT, MAX_LIMIT)?,
        offset: number("offset", 0, i64::MAX)?,
    })
}

async fn show(State(state): State<AppState>, Path(job_id): Path<String>) -> EnvelopeResult<Job> {
    state
        .jobs
        .get(&job_id)
        .await
        .map(Envelope)
        .map_err(envelope)
}

async fn retry(
    admin: Result<Require<scope::Jobs>, ApiError>,
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> EnvelopeResult<Job> {
    admin?;
    state
        .jobs
        .retry(&job_id)
        .await
        .map(Envelope)
        .map_err(envelope)
}

async fn cancel(
    admin: Result<Require<scope::Jobs>, ApiError>,
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> EnvelopeResult<Job> {
    admin?;
    state
        .jobs
        .cancel(&job_id)
        .await
        .map(Envelope)
        .map_err(envelope)
}

async fn websocket(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, EnvelopeError> {
    let upgrade = upgrade.map_err(|e| {
        EnvelopeError::new(
            e.status(),
            format!("/ws/jobs is a WebSocket: {}", e.body_text()),
        )
    })?;
    // Subscribed before the upgrade is answered: a client that creates a job as soon as
    // it is connected hears about it.
    let events = state.jobs.subscribe();
    Ok(upgrade.on_upgrade(move |socket| jobs::events::session(socket, events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_list_filter_has_defaults_and_reads_its_parameters() {
        let filter = filter(&query(&[])).expect("valid");
        assert_eq!(filter.limit, DEFAULT_LIMIT);
        assert_eq!(filter.offset, 0);
        assert_eq!(filter.status, None);
        let filter = filter_of(&[("limit", "5"), ("offset", "10"), ("status", "in_progress")]);
        assert_eq!((filter.limit, filter.offset), (5, 10));
        assert_eq!(filter.status, Some(Status::InProgress));
    }

    fn filter_of(pairs: &[(&str, &str)]) -> Filter {
        filter(&query(pairs)).expect("valid")
    }

    #[test]
    fn a_bad_list_parameter_is_a_400_naming_it() {
        for (pairs, field) in [
            (&[("limit", "0")][..], "limit"),
            (&[("limit", "1001")][..], "limit"),
            (&[("limit", "ten")][..], "limit"),
            (&[("offset", "-1")][..], "offset"),
            (&[("status", "done")][..], "status"),
        ] {
            let err = filter(&query(pairs)).expect_err("invalid");
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert!(err.message().contains(field), "{}", err.message());
        }
    }
}
