//! What the calendar routes answer under the envelope's `data`, as types the handlers
//! build and the API description documents.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A stored meeting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Meeting {
    /// Its id.
    pub id: String,
    /// The feed it came from.
    pub ical_id: String,
    /// The event's iCalendar UID.
    pub uid: String,
    /// Title.
    pub title: String,
    /// Description (agenda).
    pub description: String,
    /// Where.
    pub location: String,
    /// Start (RFC 3339).
    pub start_time: String,
    /// End (RFC 3339).
    pub end_time: String,
    /// Whether it lasts all day.
    pub all_day: bool,
    /// Its time zone.
    pub timezone: String,
    /// Who organizes it.
    pub organizer: String,
    /// Who attends, as the calendar plugin reports them (free-form).
    #[schema(value_type = Vec<Object>)]
    pub attendees: Value,
    /// Whether it recurs.
    pub recurring: bool,
    /// When it was last synced (RFC 3339).
    pub synced_at: String,
    /// The notes bot's state: `scheduled`, `running`, `completed` or `failed` (`null`: none).
    pub bot_status: Option<String>,
    /// The notes bot's job.
    pub bot_job_id: Option<String>,
    /// The notes, once written.
    pub notes: Option<String>,
}

/// `POST /api/v1/calendar/sync`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Synced {
    /// Meetings stored or updated.
    pub synced: usize,
    /// What the calendar plugin could not read, as it reports it (free-form).
    #[schema(value_type = Option<Object>)]
    pub errors: Value,
    /// Start of the window (RFC 3339).
    pub start: String,
    /// End of the window (RFC 3339).
    pub end: String,
}

/// `GET /api/v1/calendar/meetings`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingList {
    /// The meetings overlapping the window, by start.
    pub meetings: Vec<Meeting>,
    /// How many.
    pub total: usize,
    /// Start of the window (RFC 3339).
    pub start: String,
    /// End of the window (RFC 3339).
    pub end: String,
}

/// `GET /api/v1/calendar/meetings/{id}`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct OneMeeting {
    /// The meeting.
    pub meeting: Meeting,
}

/// `POST /api/v1/calendar/meetings/{id}/bot`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotScheduled {
    /// The meeting.
    pub meeting: Meeting,
    /// When the notes job runs: the meeting's end (RFC 3339).
    pub runs_at: String,
    /// The chat route that writes the notes.
    pub route: String,
}

/// `POST /api/v1/calendar/webhook`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelRegistered {
    /// The channel's id.
    pub channel_id: String,
    /// The callback's token (shown only now).
    pub token: String,
    /// Where to push: `/api/v1/calendar/webhook/{token}`.
    pub callback_path: String,
    /// What to do with it.
    pub message: &'static str,
}

/// `POST /api/v1/calendar/webhook/{token}`'s data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pushed {
    /// The channel.
    pub channel_id: String,
    /// Meetings stored or updated.
    pub synced: usize,
    /// What the calendar plugin could not read, as it reports it (free-form).
    #[schema(value_type = Option<Object>)]
    pub errors: Value,
}
