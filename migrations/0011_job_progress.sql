-- Up Migration
-- A running job's progress, advanced by each committed DB batch in the transaction that commits its rows (only
-- when that DB batch's record is new, so a retried or redriven DB batch never counts twice) and by each batch
-- record. `progress_seq` moves with every change a watcher should see (counters, plan, final state): it is the
-- id of the progress events of `GET /v1/imports/{job_id}/events`.
ALTER TABLE import_jobs
  ADD COLUMN batches_total integer,
  ADD COLUMN batches_done  integer NOT NULL DEFAULT 0,
  -- Rows read (failed and duplicate rows included), of which written (inserted or updated) and failed.
  ADD COLUMN rows_done     bigint NOT NULL DEFAULT 0,
  ADD COLUMN rows_written  bigint NOT NULL DEFAULT 0,
  ADD COLUMN rows_failed   bigint NOT NULL DEFAULT 0,
  ADD COLUMN progress_at   timestamptz,
  ADD COLUMN progress_seq  bigint NOT NULL DEFAULT 0;
