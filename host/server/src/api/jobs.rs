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
use utoipa::ToSchema;

use crate::auth::{Require, scope};
use crate::error::{ApiError, ApiJson, Envelope, EnvelopeData, EnvelopeError, EnvelopeResult};
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
#[derive(Debug, Serialize, ToSchema)]
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

#[utoipa::path(
    post, path = "/api/jobs", tag = "jobs",
    summary = "Creates a content-generation job",
    description = "Creates a content-generation job (`jobs` scope): `{prompt, route?, document_id?, channels?}`; one piece of content per channel",
    request_body = crate::jobs::NewJobBody,
    responses(
        (status = 201, description = "`{success, data: job}` (status `pending`)", body = EnvelopeData<Job>),
        (status = 400, description = "Missing or empty prompt, unknown route, or a field of the wrong type", body = crate::api::openapi::EnvelopeFailure),
        (status = 403, description = "The credential lacks the `jobs` scope", body = crate::api::openapi::EnvelopeFailure),
    ),
    security(("bearer" = ["jobs"]), ("session" = ["jobs"])),
)]
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
        .create(&state.chat.providers, new)
        .await
        .map_err(envelope)?;
    Ok((StatusCode::CREATED, Envelope(job)).into_response())
}

#[utoipa::path(
    get, path = "/api/jobs", tag = "jobs",
    summary = "Jobs newest first",
    description = "Jobs newest first: `?limit=` (1-1000, default 100), `?offset=`, `?status=`; `X-Total-Count` says how many match",
    params(
        ("limit" = Option<i64>, Query, description = "At most this many jobs (1 to 1000, default 100)"),
        ("offset" = Option<i64>, Query, description = "Skip this many (default 0)"),
        ("status" = Option<String>, Query, description = "Only jobs in this state: pending, in_progress, completed, failed, cancelled"),
    ),
    responses(
        (status = 200, description = "`{success, data: {jobs, total}}`", body = EnvelopeData<JobList>),
        (status = 400, description = "A bad limit, offset or status", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
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

#[utoipa::path(
    get, path = "/api/jobs/{job_id}", tag = "jobs",
    summary = "One job",
    description = "One job",
    params(
        ("job_id" = String, Path, description = "The job id"),
    ),
    responses(
        (status = 200, description = "`{success, data: job}`", body = EnvelopeData<Job>),
        (status = 404, description = "Unknown job", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn show(State(state): State<AppState>, Path(job_id): Path<String>) -> EnvelopeResult<Job> {
    state
        .jobs
        .get(&job_id)
        .await
        .map(Envelope)
        .map_err(envelope)
}

#[utoipa::path(
    post, path = "/api/jobs/{job_id}/retry", tag = "jobs",
    summary = "Puts a failed or cancelled job back in the queue",
    description = "Puts a failed or cancelled job back in the queue (`jobs` scope)",
    params(
        ("job_id" = String, Path, description = "The job id"),
    ),
    responses(
        (status = 200, description = "`{success, data: job}` (status `pending`)", body = EnvelopeData<Job>),
        (status = 403, description = "The credential lacks the `jobs` scope", body = crate::api::openapi::EnvelopeFailure),
        (status = 404, description = "Unknown job", body = crate::api::openapi::EnvelopeFailure),
        (status = 409, description = "The job is not failed or cancelled", body = crate::api::openapi::EnvelopeFailure),
    ),
    security(("bearer" = ["jobs"]), ("session" = ["jobs"])),
)]
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

#[utoipa::path(
    post, path = "/api/jobs/{job_id}/cancel", tag = "jobs",
    summary = "Cancels a pending or running job, stopping its provider call",
    description = "Cancels a pending or running job, stopping its provider call (`jobs` scope)",
    params(
        ("job_id" = String, Path, description = "The job id"),
    ),
    responses(
        (status = 200, description = "`{success, data: job}` (status `cancelled`)", body = EnvelopeData<Job>),
        (status = 403, description = "The credential lacks the `jobs` scope", body = crate::api::openapi::EnvelopeFailure),
        (status = 404, description = "Unknown job", body = crate::api::openapi::EnvelopeFailure),
        (status = 409, description = "The job is not pending or in progress", body = crate::api::openapi::EnvelopeFailure),
    ),
    security(("bearer" = ["jobs"]), ("session" = ["jobs"])),
)]
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

#[utoipa::path(
    get, path = "/ws/jobs", tag = "jobs",
    summary = "WebSocket of job events {type",
    description = "WebSocket of job events `{type: job_created|job_update|job_completed|job_failed, job, timestamp}`; send `{type: subscribe|unsubscribe, job_id}` to narrow them",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
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
