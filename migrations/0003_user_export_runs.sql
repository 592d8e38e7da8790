-- Up Migration
-- The daily user export's run records: one row per (run, group), found again when a retried group or the
-- failure step of the same run writes it; whether the run exported everything or only the users changed
-- since the group's last successful export (and since when); how long the group took.
ALTER TABLE export_jobs
  ADD COLUMN full_export boolean,
  ADD COLUMN changed_since timestamptz,
  ADD COLUMN duration_ms bigint;
CREATE UNIQUE INDEX export_jobs_run_group_key ON export_jobs (run_id, domain_id, group_id)
  WHERE run_id IS NOT NULL;
