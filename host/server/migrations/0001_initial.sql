-- Portable SQL: runs unchanged on SQLite and PostgreSQL (through sqlx's Any driver).
-- Text, BIGINT and DOUBLE PRECISION only (Any cannot read SQLite BOOLEAN or date types);
-- timestamps are RFC 3339 text, booleans 0/1, JSON is text.

-- Host key-value store that plugins use through the `host` WIT interface.
CREATE TABLE plugin_kv (
    plugin_id  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (plugin_id, key)
);

-- Plugins installed from the registry or by hand.
CREATE TABLE installed_plugins (
    id           TEXT NOT NULL PRIMARY KEY,
    version      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    enabled      BIGINT NOT NULL DEFAULT 1,
    permissions  TEXT NOT NULL DEFAULT '{}',
    sha256       TEXT NOT NULL,
    source       TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
