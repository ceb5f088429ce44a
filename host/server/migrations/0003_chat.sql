-- Chat sessions and their messages (`/api/chat/*`, Socket.IO `mama_bear_chat`).
-- Portable SQL (see 0001): TEXT and BIGINT only, timestamps as RFC 3339 text, JSON as text.

CREATE TABLE chat_sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    -- NULL until set by the creator or taken from the first message.
    title      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX chat_sessions_updated_at ON chat_sessions (updated_at);

CREATE TABLE chat_messages (
    id         TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    -- Order within the session (0, 1, 2, ...): timestamps alone can tie.
    position   BIGINT NOT NULL,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX chat_messages_session_position ON chat_messages (session_id, position);
