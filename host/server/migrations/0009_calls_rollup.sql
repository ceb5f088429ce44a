-- Hourly roll-up of the `calls` table (0006): the call recorder's retention
-- (`[telemetry] retention_days`, `max_rows`; `host/src/telemetry/retention.rs`) adds the
-- rows it is about to delete here first, so `/api/analytics` over old periods keeps its
-- counts, failures, tokens and (from the per-group mean) approximate latencies.
-- Portable SQL (see 0001). Several rows may share one group (one per pruning run); the
-- readers sum them.

CREATE TABLE calls_rollup (
    -- Start of the hour, RFC 3339 UTC: `2026-01-01T12:00:00Z`.
    hour            TEXT NOT NULL,
    source          TEXT NOT NULL,
    plugin_id       TEXT,
    plugin_kind     TEXT,
    operation       TEXT NOT NULL,
    route           TEXT,
    model           TEXT,
    outcome         TEXT NOT NULL,
    error_code      TEXT,
    cached          BIGINT NOT NULL DEFAULT 0,
    -- Calls in this group and hour.
    calls           BIGINT NOT NULL,
    duration_ms_sum DOUBLE PRECISION NOT NULL,
    duration_ms_max DOUBLE PRECISION NOT NULL,
    -- Sum of the calls' tokens (NULL when none had any).
    tokens          BIGINT
);

CREATE INDEX calls_rollup_hour ON calls_rollup (hour);
