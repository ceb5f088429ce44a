-- Installed components where every node can read them (issue 16): a plugin installed or
-- uploaded through one node is stored here by its sha256 (content-addressed, so an update
-- adds a row and a reinstall adds none), with the manifest it was installed with. Other
-- nodes write it into their plugins directory when they follow the install. The component
-- is base64 text: portable across SQLite and PostgreSQL through sqlx's Any driver.
CREATE TABLE plugin_components (
    sha256    TEXT NOT NULL PRIMARY KEY,
    plugin_id TEXT NOT NULL,
    manifest  TEXT NOT NULL,
    component TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
