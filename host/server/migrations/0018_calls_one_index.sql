-- `calls` keeps one secondary index, on `at`: every reader of the table (analytics,
-- retention) selects by time alone, so `calls_source_at` only cost each recorded call
-- an index insert. Portable SQL (see 0001); an older node keeps working without it.

DROP INDEX IF EXISTS calls_source_at;
