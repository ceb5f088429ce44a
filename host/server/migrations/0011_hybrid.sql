-- The hybrid backend's API (`/api/v1/documents`, `/api/v1/projects`, seed 003): records
-- kept per user. Portable SQL (see 0001): TEXT and BIGINT only, timestamps as RFC 3339
-- text, JSON as text.

CREATE TABLE hybrid_projects (
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    status      TEXT NOT NULL,
    -- A JSON object.
    metadata    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX hybrid_projects_user ON hybrid_projects (user_id, updated_at);

CREATE TABLE hybrid_documents (
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    project_id  TEXT,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX hybrid_documents_user ON hybrid_documents (user_id, updated_at);
