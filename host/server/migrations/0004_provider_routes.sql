-- Chat routes bound through the admin API (`PUT /api/providers/routes/{name}`); they beat
-- the config file's `[routes.<name>]` for the same name. Portable SQL (see 0001).

CREATE TABLE provider_routes (
    name       TEXT NOT NULL PRIMARY KEY,
    -- The route as JSON: {chain:[{provider, model?, enabled?}], timeout_ms?, retries?, backoff_ms?}
    spec       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
