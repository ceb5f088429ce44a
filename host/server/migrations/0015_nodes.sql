-- The nodes that use this database (issue 16): each node writes its row at start and
-- every few seconds after (`last_seen`, RFC 3339 UTC text), and says whether it shares
-- events through Redis (`shared` 0/1). A node that sees another one seen lately, while
-- either of them runs without Redis, warns that their in-memory state is not shared.
CREATE TABLE nodes (
    id         TEXT NOT NULL PRIMARY KEY,
    version    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    shared     BIGINT NOT NULL DEFAULT 0
);
