-- The audit of denied access (`host/src/audit.rs`): every refusal of a plugin (file, host,
-- secret, env, cap, budget, quota), readable by admins at `GET /api/plugins/{id}/audit`.
-- Portable SQL (see 0001). `seq` orders rows written within one microsecond.

CREATE TABLE plugin_audit (
    seq       BIGINT NOT NULL,
    at        TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL
);

CREATE INDEX plugin_audit_plugin_at ON plugin_audit (plugin_id, at);
CREATE INDEX plugin_audit_at ON plugin_audit (at);
