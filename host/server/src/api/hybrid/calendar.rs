//! The hybrid backend's calendar (seed 003), served by the bundled `calendar` plugin:
//!
//! - `POST /api/v1/calendar/sync {start?, end?}` pulls the meetings of the configured
//!   iCalendar feeds through the plugin's `events` tool (default window: a week back to
//!   four weeks ahead) and keeps them for the caller (`calendar_meetings`);
//! - `GET /api/v1/calendar/meetings?start=&end=` (default: the current week, Monday 00:00
//!   UTC to the next Monday) and `GET /api/v1/calendar/meetings/{id}`;
//! - `POST /api/v1/calendar/webhook {start?, end?}` registers a push channel: a callback
//!   token, and the URL `POST /api/v1/calendar/webhook/{token}` that syncs the channel
//!   owner's meetings (in the channel's window, else the default one);
//! - `POST /api/v1/calendar/meetings/{id}/bot {route?}` schedules the meeting-notes bot: at
//!   the meeting's end a job ([`crate::jobs`]) on a chat route writes notes, which are
//!   stored on the meeting (`notes`, `bot_status`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::V1User;
use crate::clock;
use crate::error::{Envelope, EnvelopeError};
use crate::jobs::{NewJob, Status};
use crate::runtime::mcp::Content;
use crate::state::AppState;

mod view;

pub use view::{BotScheduled, ChannelRegistered, Meeting, MeetingList, OneMeeting, Pushed, Synced};

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calendar/sync", post(sync))
        .route("/api/v1/calendar/meetings", get(meetings))
        .route("/api/v1/calendar/meetings/{id}", get(meeting))
        .route("/api/v1/calendar/meetings/{id}/bot", post(schedule_bot))
        .route("/api/v1/calendar/webhook", post(register_webhook))
        .route("/api/v1/calendar/webhook/{token}", post(webhook))
}

fn internal(err: impl Into<anyhow::Error>) -> EnvelopeError {
    EnvelopeError::internal(err.into())
}

fn parse_time(name: &str, text: &str) -> Result<DateTime<Utc>, EnvelopeError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            EnvelopeError::bad_request(format!("{name} must be an RFC 3339 time or YYYY-MM-DD"))
                .with_details(json!({ "field": name }))
        })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The meeting id of an occurrence: short, URL-safe, stable.
fn meeting_id(ical_id: &str) -> String {
    hex::encode(&Sha256::digest(ical_id.as_bytes())[..12])
}

/// Pulls the feeds' meetings in `[from, to)` for `user`; how many were kept and the
/// plugin's per-feed errors.
async fn pull(
    state: &AppState,
    user_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(usize, Value), EnvelopeError> {
    let contents = crate::mcp::call_tool(
        &state.plugins,
        "calendar",
        "events",
        json!({ "start": rfc3339(from), "end": rfc3339(to) }),
    )
    .await
    .map_err(|err| {
        let status = if err.is_not_found() {
            StatusCode::SERVICE_UNAVAILABLE
        } else if err.code() == "invalid-input" || err.code() == "invalid_arguments" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::BAD_GATEWAY
        };
        EnvelopeError::new(status, format!("The calendar plugin could not sync: {err}"))
    })?;
    let answer: Value = contents
        .iter()
        .find_map(|c| match c {
            Content::Json(text) => serde_json::from_str(text).ok(),
            Content::Text(_) => None,
        })
        .unwrap_or_else(|| json!({ "events": [] }));
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    let now = clock::timestamp();
    for event in &events {
        let text = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        let ical_id = text("id");
        sqlx::query(
            "INSERT INTO calendar_meetings (user_id, id, ical_id, uid, title, description, location, \
             start_time, end_time, all_day, timezone, organizer, attendees, recurring, synced_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (user_id, id) DO UPDATE SET title = excluded.title, \
             description = excluded.description, location = excluded.location, \
             end_time = excluded.end_time, timezone = excluded.timezone, \
             organizer = excluded.organizer, attendees = excluded.attendees, \
             recurring = excluded.recurring, synced_at = excluded.synced_at",
        )
        .bind(user_id)
        .bind(meeting_id(&ical_id))
        .bind(&ical_id)
        .bind(text("uid"))
        .bind(text("title"))
        .bind(text("description"))
        .bind(text("location"))
        .bind(text("start"))
        .bind(text("end"))
        .bind(i64::from(event["all_day"].as_bool().unwrap_or(false)))
        .bind(text("timezone"))
        .bind(text("organizer"))
        .bind(event["attendees"].to_string())
        .bind(i64::from(event["recurring"].as_bool().unwrap_or(false)))
        .bind(&now)
        .execute(state.db.pool())
        .await
        .map_err(internal)?;
    }
    Ok((events.len(), answer["errors"].clone()))
}

/// Body of `POST /api/v1/calendar/sync` and `POST /api/v1/calendar/webhook` (an empty
/// body is `{}`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// Start of the window (RFC 3339 or YYYY-MM-DD; default a week ago).
    start: Option<String>,
    /// End of the window, after `start` (default four weeks ahead).
    end: Option<String>,
}

fn default_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - Duration::days(7), now + Duration::days(28))
}

#[utoipa::path(
    post, path = "/api/v1/calendar/sync", tag = "calendar",
    summary = "Pulls the configured feeds' meetings through the calendar plugin",
    description = "Pulls the configured feeds' meetings through the `calendar` plugin (`{start?, end?}`)",
    request_body(content = SyncBody, description = "`{start?, end?}`; an empty body is `{}`"),
    responses(
        (status = 200, description = "`{success, data: {synced, errors, start, end}}`", body = crate::error::EnvelopeData<Synced>),
        (status = 400, description = "A bad window", body = crate::api::openapi::EnvelopeFailure),
        (status = 503, description = "The calendar plugin is not loaded", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn sync(
    State(state): State<AppState>,
    user: V1User,
    body: Bytes,
) -> Result<Envelope<Synced>, EnvelopeError> {
    let body: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        SyncBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            EnvelopeError::bad_request(format!("The body must be {{start?, end?}}: {e}"))
        })?
    };
    let (mut from, mut to) = default_window();
    if let Some(start) = &body.start {
        from = parse_time("start", start)?;
    }
    if let Some(end) = &body.end {
        to = parse_time("end", end)?;
    }
    if to <= from {
        return Err(EnvelopeError::bad_request("end must be after start"));
    }
    let (synced, errors) = pull(&state, &user.id, from, to).await?;
    tracing::info!(user = %user.name, synced, "calendar synced");
    Ok(Envelope(Synced {
        synced,
        errors,
        start: rfc3339(from),
        end: rfc3339(to),
    }))
}

fn meeting_json(row: &AnyRow) -> Result<Meeting, EnvelopeError> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(internal);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(internal);
    let attendees: Value = serde_json::from_str(&text("attendees")?).unwrap_or_else(|_| json!([]));
    Ok(Meeting {
        id: text("id")?,
        ical_id: text("ical_id")?,
        uid: text("uid")?,
        title: text("title")?,
        description: text("description")?,
        location: text("location")?,
        start_time: text("start_time")?,
        end_time: text("end_time")?,
        all_day: row.try_get::<i64, _>("all_day").map_err(internal)? != 0,
        timezone: text("timezone")?,
        organizer: text("organizer")?,
        attendees,
        recurring: row.try_get::<i64, _>("recurring").map_err(internal)? != 0,
        synced_at: text("synced_at")?,
        bot_status: optional("bot_status")?,
        bot_job_id: optional("bot_job_id")?,
        notes: optional("notes")?,
    })
}

/// Query of `GET /api/v1/calendar/meetings`.
#[derive(Debug, Deserialize)]
struct MeetingsQuery {
    start: Option<String>,
    end: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/calendar/meetings", tag = "calendar",
    summary = "The caller's meetings overlapping ?start=&end=",
    description = "The caller's meetings overlapping `?start=&end=` (default: the current week)",
    params(
        ("start" = Option<String>, Query, description = "Start of the window (RFC 3339 or YYYY-MM-DD; default the start of this week)"),
        ("end" = Option<String>, Query, description = "End of the window (default the end of this week)"),
    ),
    responses(
        (status = 200, description = "`{success, data: {meetings, total, start, end}}`", body = crate::error::EnvelopeData<MeetingList>),
        (status = 400, description = "A bad date", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn meetings(
    State(state): State<AppState>,
    user: V1User,
    Query(query): Query<MeetingsQuery>,
) -> Result<Envelope<MeetingList>, EnvelopeError> {
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut from = monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let mut to = from + Duration::days(7);
    if let Some(start) = &query.start {
        from = parse_time("start", start)?;
    }
    if let Some(end) = &query.end {
        to = parse_time("end", end)?;
    }
    if to <= from {
        return Err(EnvelopeError::bad_request("end must be after start"));
    }
    // Overlapping the window: starts before its end, ends after its start.
    let rows = sqlx::query(
        "SELECT * FROM calendar_meetings WHERE user_id = $1 AND start_time < $2 AND end_time > $3 \
         ORDER BY start_time, id",
    )
    .bind(&user.id)
    .bind(rfc3339(to))
    .bind(rfc3339(from))
    .fetch_all(state.db.pool())
    .await
    .map_err(internal)?;
    let meetings = rows
        .iter()
        .map(meeting_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope(MeetingList {
        total: meetings.len(),
        meetings,
        start: rfc3339(from),
        end: rfc3339(to),
    }))
}

async fn fetch_meeting(state: &AppState, user: &V1User, id: &str) -> Result<AnyRow, EnvelopeError> {
    sqlx::query("SELECT * FROM calendar_meetings WHERE user_id = $1 AND id = $2")
        .bind(&user.id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(internal)?
        .ok_or_else(|| EnvelopeError::not_found(format!("No meeting with id {id}")))
}

#[utoipa::path(
    get, path = "/api/v1/calendar/meetings/{id}", tag = "calendar",
    summary = "One meeting, with its bot's notes",
    description = "One meeting, with its bot's notes",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    responses(
        (status = 200, description = "`{success, data: {meeting}}`", body = crate::error::EnvelopeData<OneMeeting>),
        (status = 404, description = "Unknown meeting", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn meeting(
    State(state): State<AppState>,
    user: V1User,
    Path(id): Path<String>,
) -> Result<Envelope<OneMeeting>, EnvelopeError> {
    // Catch up on a bot whose timer or job finished while nobody watched (e.g. a restart).
    advance_bot(&state, &user.id, &id).await?;
    let row = fetch_meeting(&state, &user, &id).await?;
    Ok(Envelope(OneMeeting {
        meeting: meeting_json(&row)?,
    }))
}

/// Body of `POST .../meetings/{id}/bot` (an empty body is `{}`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotBody {
    /// The chat route whose providers write the notes (default the jobs' route).
    route: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/calendar/meetings/{id}/bot", tag = "calendar",
    summary = "Schedules the meeting-notes job at the meeting's end",
    description = "Schedules the meeting-notes job at the meeting's end (`{route?}`)",
    params(
        ("id" = String, Path, description = "The id"),
    ),
    request_body(content = BotBody, description = "`{route?}`; an empty body is `{}`"),
    responses(
        (status = 202, description = "`{success, data: {meeting, runs_at, route}}`", body = crate::error::EnvelopeData<BotScheduled>),
        (status = 400, description = "Unknown route", body = crate::api::openapi::EnvelopeFailure),
        (status = 404, description = "Unknown meeting", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn schedule_bot(
    State(state): State<AppState>,
    user: V1User,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Envelope<BotScheduled>), EnvelopeError> {
    let body: BotBody = if body.iter().all(u8::is_ascii_whitespace) {
        BotBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| EnvelopeError::bad_request(format!("The body must be {{route?}}: {e}")))?
    };
    let route = body
        .route
        .unwrap_or_else(|| crate::jobs::DEFAULT_ROUTE.to_owned());
    if state.chat.providers.route(&route).is_none() {
        return Err(
            EnvelopeError::bad_request(format!("No chat route is named {route}"))
                .with_details(json!({ "field": "route" })),
        );
    }
    let row = fetch_meeting(&state, &user, &id).await?;
    let end: String = row.try_get("end_time").map_err(internal)?;
    let end = parse_time("end_time", &end)?;
    sqlx::query(
        "UPDATE calendar_meetings SET bot_status = 'scheduled', bot_route = $3, bot_job_id = NULL, \
         notes = NULL WHERE user_id = $1 AND id = $2",
    )
    .bind(&user.id)
    .bind(&id)
    .bind(&route)
    .execute(state.db.pool())
    .await
    .map_err(internal)?;
    // Wakes at the meeting's end, starts the notes job, and stores its notes when done.
    let wait = (end - Utc::now()).to_std().unwrap_or_default();
    let (task_state, user_id, meeting) = (state.clone(), user.id.clone(), id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        loop {
            match advance_bot(&task_state, &user_id, &meeting).await {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                Err(err) => {
                    tracing::warn!(meeting = %meeting, error = %err.message(), "meeting bot stopped");
                    break;
                }
            }
        }
    });
    let row = fetch_meeting(&state, &user, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Envelope(BotScheduled {
            meeting: meeting_json(&row)?,
            runs_at: rfc3339(end),
            route,
        }),
    ))
}

/// Moves a meeting's bot on: starts its job once the meeting has ended, stores the notes
/// once the job is done. Whether the bot has nothing more to do.
async fn advance_bot(state: &AppState, user_id: &str, id: &str) -> Result<bool, EnvelopeError> {
    let Some(row) = sqlx::query("SELECT * FROM calendar_meetings WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(internal)?
    else {
        return Ok(true);
    };
    let status: Option<String> = row.try_get("bot_status").map_err(internal)?;
    let job_id: Option<String> = row.try_get("bot_job_id").map_err(internal)?;
    match (status.as_deref(), job_id) {
        (Some("scheduled"), _) => {
            let end = parse_time(
                "end_time",
                &row.try_get::<String, _>("end_time").map_err(internal)?,
            )?;
            if end > Utc::now() {
                return Ok(false);
            }
            let meeting = meeting_json(&row)?;
            let prompt = format!(
                "Write meeting notes for \"{}\" ({} to {}, {}). Organizer: {}. Attendees: {}. \
                 Agenda and description: {}. Give a summary, decisions and action items.",
                meeting.title,
                meeting.start_time,
                meeting.end_time,
                meeting.location,
                meeting.organizer,
                meeting.attendees,
                meeting.description,
            );
            let route: Option<String> = row.try_get("bot_route").map_err(internal)?;
            let job = state
                .jobs
                .create(
                    &state.chat.providers,
                    NewJob {
                        prompt,
                        route: route.unwrap_or_else(|| crate::jobs::DEFAULT_ROUTE.to_owned()),
                        document_id: Some(format!("meeting:{id}")),
                        channels: Vec::new(),
                        sampling: Default::default(),
                    },
                )
                .await
                .map_err(|e| internal(anyhow::anyhow!("{e}")))?;
            set_bot(state, user_id, id, "running", Some(&job.job_id), None).await?;
            Ok(false)
        }
        (Some("running"), Some(job_id)) => {
            let job = state
                .jobs
                .get(&job_id)
                .await
                .map_err(|e| internal(anyhow::anyhow!("{e}")))?;
            match job.status {
                Status::Completed => {
                    let notes = job
                        .results
                        .as_ref()
                        .and_then(|r| r["content"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    set_bot(state, user_id, id, "completed", Some(&job_id), Some(&notes)).await?;
                    Ok(true)
                }
                Status::Failed | Status::Cancelled => {
                    set_bot(
                        state,
                        user_id,
                        id,
                        "failed",
                        Some(&job_id),
                        job.error.as_deref(),
                    )
                    .await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        _ => Ok(true),
    }
}

async fn set_bot(
    state: &AppState,
    user_id: &str,
    id: &str,
    status: &str,
    job_id: Option<&str>,
    notes: Option<&str>,
) -> Result<(), EnvelopeError> {
    sqlx::query(
        "UPDATE calendar_meetings SET bot_status = $3, bot_job_id = $4, notes = $5 \
         WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .bind(status)
    .bind(job_id)
    .bind(notes)
    .execute(state.db.pool())
    .await
    .map_err(internal)?;
    Ok(())
}

#[utoipa::path(
    post, path = "/api/v1/calendar/webhook", tag = "calendar",
    summary = "Registers a push channel",
    description = "Registers a push channel (`{start?, end?}`): a callback token and path",
    request_body(content = SyncBody, description = "`{start?, end?}`; an empty body is `{}`"),
    responses(
        (status = 201, description = "`{success, data: {channel_id, token, callback_path}}`", body = crate::error::EnvelopeData<ChannelRegistered>),
    ),
)]
async fn register_webhook(
    State(state): State<AppState>,
    user: V1User,
    body: Bytes,
) -> Result<(StatusCode, Envelope<ChannelRegistered>), EnvelopeError> {
    let body: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        SyncBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            EnvelopeError::bad_request(format!("The body must be {{start?, end?}}: {e}"))
        })?
    };
    let window = match (&body.start, &body.end) {
        (Some(start), Some(end)) => {
            let (from, to) = (parse_time("start", start)?, parse_time("end", end)?);
            if to <= from {
                return Err(EnvelopeError::bad_request("end must be after start"));
            }
            Some((rfc3339(from), rfc3339(to)))
        }
        (None, None) => None,
        _ => {
            return Err(EnvelopeError::bad_request(
                "give both start and end, or neither",
            ));
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let token = crate::auth::random_hex();
    sqlx::query(
        "INSERT INTO calendar_channels (id, user_id, token_hash, created_at, window_start, window_end) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&user.id)
    .bind(crate::auth::hash_hex(&token))
    .bind(clock::timestamp())
    .bind(window.as_ref().map(|w| w.0.clone()))
    .bind(window.as_ref().map(|w| w.1.clone()))
        .execute(state.db.pool())
        .await
        .map_err(internal)?;
    tracing::info!(user = %user.name, channel = %id, "calendar push channel registered");
    Ok((
        StatusCode::CREATED,
        Envelope(ChannelRegistered {
            channel_id: id,
            callback_path: format!("/api/v1/calendar/webhook/{token}"),
            token,
            message: "POST to callback_path (no other credential needed) to sync this user's meetings",
        }),
    ))
}

#[utoipa::path(
    post, path = "/api/v1/calendar/webhook/{token}", tag = "calendar",
    summary = "A push",
    description = "A push: syncs the channel owner's meetings (the token is the credential)",
    params(
        ("token" = String, Path, description = "The token"),
    ),
    responses(
        (status = 200, description = "`{success, data: {channel_id, synced, errors}}`", body = crate::error::EnvelopeData<Pushed>),
        (status = 404, description = "No channel has this token", body = crate::api::openapi::EnvelopeFailure),
    ),
)]
async fn webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Envelope<Pushed>, EnvelopeError> {
    let row = sqlx::query(
        "SELECT id, user_id, window_start, window_end FROM calendar_channels WHERE token_hash = $1",
    )
    .bind(crate::auth::hash_hex(&token))
    .fetch_optional(state.db.pool())
    .await
    .map_err(internal)?
    .ok_or_else(|| EnvelopeError::new(StatusCode::NOT_FOUND, "No push channel has this token"))?;
    let channel: String = row.try_get("id").map_err(internal)?;
    let user_id: String = row.try_get("user_id").map_err(internal)?;
    let start: Option<String> = row.try_get("window_start").map_err(internal)?;
    let end: Option<String> = row.try_get("window_end").map_err(internal)?;
    let (from, to) = match (start, end) {
        (Some(start), Some(end)) => (parse_time("start", &start)?, parse_time("end", &end)?),
        _ => default_window(),
    };
    let (synced, errors) = pull(&state, &user_id, from, to).await?;
    sqlx::query("UPDATE calendar_channels SET last_sync_at = $2 WHERE id = $1")
        .bind(&channel)
        .bind(clock::timestamp())
        .execute(state.db.pool())
        .await
        .map_err(internal)?;
    Ok(Envelope(Pushed {
        channel_id: channel,
        synced,
        errors,
    }))
}
