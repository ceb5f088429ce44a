-- Bundled plugins an operator uninstalled: start-up must not put them back.
CREATE TABLE plugin_removals (
    id         TEXT NOT NULL PRIMARY KEY,
    removed_at TEXT NOT NULL
);

-- The operator's admin keys, stored as sha256 hashes (the key itself is shown once).
CREATE TABLE admin_keys (
    id         TEXT NOT NULL PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
