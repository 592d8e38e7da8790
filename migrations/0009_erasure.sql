-- Up Migration
-- Erasure is a job like any other: a row in import_jobs of kind 'erasure'.
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_kind_check;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_kind_check
  CHECK (kind IN ('nodes', 'matches', 'users', 'erasure'));

-- What remains of an erasure: when, who asked, how many rows per table. No reference ids, ever. Not tied to
-- import_jobs by a foreign key: the record outlives the job row when retention prunes old jobs.
CREATE TABLE erasures (
  job_id          uuid PRIMARY KEY,
  domain_id       uuid NOT NULL,
  -- The one group the erasure was limited to; null: every group of the domain.
  group_id        varchar(255) COLLATE "C",
  -- Who asked: kafka:<topic>/<partition>/<offset>, api:<principal>, cli.
  requested_by    text NOT NULL,
  requested_count bigint NOT NULL DEFAULT 0,
  -- Rows removed (or rewritten, for job_status_events) per table: {"nodes": 3, "match_suggestions": 7, …}.
  counts          jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Objects Matchbridge wrote that named an erased reference: {"rewritten": n, "deleted": n}.
  objects         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          varchar(16) NOT NULL DEFAULT 'PROCESSING'
                  CHECK (status IN ('PROCESSING', 'COMPLETED', 'FAILED')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX erasures_domain_created_idx ON erasures (domain_id, created_at DESC);

-- The ids of a running erasure, for set lookups while objects are filtered (an id list of any size stays
-- out of memory). Emptied when the erasure finishes; a failed erasure's rows go with its job.
CREATE TABLE erasure_references (
  job_id     uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  reference  varchar(255) COLLATE "C" NOT NULL,
  PRIMARY KEY (job_id, reference)
);

-- A suggestion is erased when the reference is either participant: the other side needs its own index.
CREATE INDEX match_suggestions_domain_group_matched_idx
  ON match_suggestions (domain_id, group_id, matched_participant_id);
-- Failed rows are found by reference.
CREATE INDEX import_job_errors_domain_reference_idx ON import_job_errors (domain_id, reference)
  WHERE reference IS NOT NULL;
