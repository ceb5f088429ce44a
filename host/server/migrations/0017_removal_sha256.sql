-- Which component an uninstall removed: start-up deletes a directory left under a removed
-- id only when it holds that component (a stale copy), never a different plugin an
-- operator dropped in under the same id later. Empty for removals recorded before.
ALTER TABLE plugin_removals ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
