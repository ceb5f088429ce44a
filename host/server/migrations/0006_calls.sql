-- Every plugin call and every chat call, for `/api/analytics` (written in batches by the
-- host's call recorder, `host/src/telemetry.rs`).
-- Portable SQL (see 0001): TEXT, BIGINT and DOUBLE PRECISION only, timestamps as RFC 3339
-- text (UTC, microseconds), booleans 0/1.

CREATE TABLE calls (
    id          TEXT NOT NULL PRIMARY KEY,
    -- `plugin`: one call into a plugin; `chat`: one chat answered (or not) on a route.
    source      TEXT NOT NULL,
    -- When the call finished.
    at          TEXT NOT NULL,
    -- Plugin calls: the plugin. Chat calls: the provider that answered (or failed last).
    plugin_id   TEXT,
    -- Plugin calls: mcp-server, ai-provider, scout-check or health-probe.
    plugin_kind TEXT,
    -- Plugin calls: the tool name, `chat`, `describe`, `probe`, `check`, ...
    -- Chat calls: `chat`.
    operation   TEXT NOT NULL,
    -- Chat calls: the route (or the model name asked for on /v1).
    route       TEXT,
    model       TEXT,
    -- Plugin calls: ok | error | timeout | trap | memory. Chat calls: ok | failed.
    outcome     TEXT NOT NULL,
    -- The failure's code (`invalid-input`, `unavailable`, `timeout`, ...).
    error_code  TEXT,
    -- Chat calls: 1 when answered from the response cache.
    cached      BIGINT NOT NULL DEFAULT 0,
    duration_ms DOUBLE PRECISION NOT NULL,
    -- Chat calls: prompt plus completion tokens.
    tokens      BIGINT
);

CREATE INDEX calls_at ON calls (at);
CREATE INDEX calls_source_at ON calls (source, at);
