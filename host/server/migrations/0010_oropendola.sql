-- The Oropendola method surface (`/api/method/oropendola.*`, seed 004): per-user settings,
-- uploaded files (the bytes live under <data_dir>/uploads/<user>/<id>; the row says whose
-- and what), and the workspace index (`workspace.index` / `workspace.search`).
-- Portable SQL (see 0001): TEXT and BIGINT only, timestamps as RFC 3339 text, JSON as text.

CREATE TABLE user_settings (
    user_id    TEXT NOT NULL PRIMARY KEY,
    -- A JSON object.
    settings   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE user_files (
    id           TEXT NOT NULL PRIMARY KEY,
    user_id      TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE INDEX user_files_user_id ON user_files (user_id);

CREATE TABLE workspace_index (
    path       TEXT NOT NULL PRIMARY KEY,
    content    TEXT NOT NULL,
    size       BIGINT NOT NULL,
    indexed_at TEXT NOT NULL
);
