-- Up Migration
-- A batch's completion, durable: written when a batch of an import has committed all its rows (and its
-- success list), read before a batch starts. A batch run again — a Lambda retried after it finished but
-- before it returned, a redriven execution, the same job run again — returns these counts without reading
-- or writing anything, so the job's counts are those of a single run.
CREATE TABLE import_job_batches (
  job_id        uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  batch_index   integer NOT NULL,
  -- What the batch covered (its byte range or rows): a record counts only for the same work, so a job planned
  -- again with other settings never skips rows.
  batch_key     text NOT NULL,
  row_count     bigint NOT NULL,
  inserted      bigint NOT NULL,
  updated       bigint NOT NULL,
  duplicates    bigint NOT NULL,
  failed        bigint NOT NULL,
  duration_ms   bigint NOT NULL,
  completed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, batch_index, batch_key)
);
