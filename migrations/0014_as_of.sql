-- Up Migration
-- As-of (issue 22): the time of the data a node or a match suggestion holds, so that an older file delivered
-- after a newer one (a DLQ replay, a redrive) does not overwrite it. NULL on rows written before: older than
-- any import.
ALTER TABLE nodes ADD COLUMN as_of timestamptz;
-- The matching engine's run time of the suggestion.
ALTER TABLE match_suggestions ADD COLUMN as_of timestamptz;
-- The as-of of a job's rows, fixed by its first plan (the request's `asOf`, else the source's last-modified
-- time), so retries, redrives and `jobs resume` write with the same one; and the rows it did not write
-- because their node (or pair) already held newer data: neither succeeded nor failed.
ALTER TABLE import_jobs
  ADD COLUMN as_of timestamptz,
  ADD COLUMN stale_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN rows_stale bigint NOT NULL DEFAULT 0;
ALTER TABLE import_job_batches ADD COLUMN stale bigint NOT NULL DEFAULT 0;
ALTER TABLE import_job_db_batches ADD COLUMN stale bigint NOT NULL DEFAULT 0;
