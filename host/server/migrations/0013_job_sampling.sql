-- A job's sampling parameters (`max_tokens`, `temperature`, `top_p` of `POST /api/jobs`,
-- checked like every chat surface's): a JSON object, NULL when none was given.
ALTER TABLE jobs ADD COLUMN sampling TEXT;
