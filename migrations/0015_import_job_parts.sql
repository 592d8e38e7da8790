-- Up Migration
-- The parts of a job whose source is a folder, prefix or manifest of Parquet parts, in part order: where
-- each is, the version the plan read (a batch reads only that version, or fails SOURCE_CHANGED naming the
-- part), and where its rows sit among the job's rows. The job's rows are numbered across its parts
-- (import_job_errors.line = first_row + row within the part + 1), so a failed row's part and its row in
-- the part are found here; the batches in the state name their part by index only, keeping the plan small.
CREATE TABLE import_job_parts (
  job_id     uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  part       integer NOT NULL,
  uri        text NOT NULL,
  name       text NOT NULL,
  pin        jsonb NOT NULL,
  first_row  bigint NOT NULL,
  rows       bigint NOT NULL,
  CONSTRAINT import_job_parts_pkey PRIMARY KEY (job_id, part)
);
-- The part of a failed row: the last part starting at or before it.
CREATE INDEX import_job_parts_first_row_idx ON import_job_parts (job_id, first_row);
