-- The hybrid backend's calendar (`/api/v1/calendar/*`, seed 003): meetings pulled from
-- iCalendar feeds through the `calendar` plugin, kept per user with the notes a meeting
-- bot (a job on a chat route) writes; and push channels whose callback token triggers a
-- sync. Portable SQL (see 0001).

CREATE TABLE calendar_meetings (
    user_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    -- The occurrence as the plugin names it: `<UID>@<start>`.
    ical_id     TEXT NOT NULL,
    uid         TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    location    TEXT NOT NULL,
    start_time  TEXT NOT NULL,
    end_time    TEXT NOT NULL,
    all_day     BIGINT NOT NULL,
    timezone    TEXT NOT NULL,
    organizer   TEXT NOT NULL,
    -- JSON array of addresses.
    attendees   TEXT NOT NULL,
    recurring   BIGINT NOT NULL,
    synced_at   TEXT NOT NULL,
    -- The meeting bot: `scheduled`, `running`, `completed`, `failed`.
    bot_status  TEXT,
    bot_route   TEXT,
    bot_job_id  TEXT,
    notes       TEXT,
    PRIMARY KEY (user_id, id)
);

CREATE INDEX calendar_meetings_start ON calendar_meetings (user_id, start_time);

CREATE TABLE calendar_channels (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    -- sha256 hex of the callback token.
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_sync_at TEXT,
    -- A fixed window to sync (RFC 3339); none: a week back to four weeks ahead of the call.
    window_start TEXT,
    window_end   TEXT
);
