-- Background content-generation jobs (`/api/jobs`, `/ws/jobs`; seed 001), run by AI
-- provider plugins through the chat routes. Portable SQL (see 0001): TEXT and BIGINT only,
-- timestamps as RFC 3339 text, JSON as text. The analytics routes read these columns too.

CREATE TABLE jobs (
    job_id        TEXT NOT NULL PRIMARY KEY,   -- "job-<uuid>"
    status        TEXT NOT NULL,               -- pending | in_progress | completed | failed | cancelled
    prompt        TEXT NOT NULL,
    route         TEXT NOT NULL,               -- chat route, default 'mama-bear'
    document_id   TEXT,
    channels      TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    results       TEXT,                        -- JSON object, NULL until completed
    error         TEXT,                        -- why it failed / was cancelled
    attempts      BIGINT NOT NULL DEFAULT 0,   -- runs started (restarts and retries count)
    provider      TEXT,                        -- plugin id that answered (last one)
    model         TEXT,
    tokens_used   BIGINT,
    processing_ms BIGINT,                      -- wall time of the successful run
    created_at    TEXT NOT NULL,               -- RFC 3339 UTC, e.g. 2025-10-08T12:00:00.123Z
    started_at    TEXT,
    completed_at  TEXT,                        -- set for completed, failed and cancelled
    updated_at    TEXT NOT NULL,
    -- Queue order: when it was created or last retried (NULL: created_at).
    queued_at     TEXT
);
CREATE INDEX jobs_status_created ON jobs (status, created_at);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_status_queued ON jobs (status, queued_at);
