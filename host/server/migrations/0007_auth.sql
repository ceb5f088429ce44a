-- API keys with scopes, users with passwords, and their login sessions (`/api/auth/*`).
-- Portable SQL (see 0001): TEXT and BIGINT only, timestamps as RFC 3339 text, JSON as text.
-- Secrets are never stored: keys and session ids as sha256 hex, passwords as argon2id PHC
-- strings. The admin key of 0002 (`admin_keys`) stays as it is.

CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    -- The key's first characters, shown in listings so an operator can tell keys apart.
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    -- JSON array of scope names, e.g. ["plugins","cache"].
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- JSON array of scope names.
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    -- sha256 hex of the `sid` cookie's value.
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
