-- Up Migration
-- Each DB batch (one transaction of a batch's rows), written in its own transaction: a batch that stopped
-- midway and runs again rewrites the DB batches it had committed (the upsert is idempotent) but reports
-- the counts of their first run, so the rows it inserted then are not counted again as updated.
CREATE TABLE import_job_db_batches (
  job_id      uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  batch_index integer NOT NULL,
  batch_key   text NOT NULL,
  -- The batch's rows before this DB batch, and its own: a record counts only for the same cut of the rows.
  row_offset  bigint NOT NULL,
  row_count   bigint NOT NULL,
  inserted    bigint NOT NULL,
  updated     bigint NOT NULL,
  PRIMARY KEY (job_id, batch_index, batch_key, row_offset, row_count)
);
