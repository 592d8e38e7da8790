-- Up Migration
-- The match loader's bookkeeping, as nodes have it: which row of the last job's file wrote the suggestion
-- (last_row, with the existing last_job_id) and how many distinct rows of that job wrote it (job_writes).
-- They make a key repeated across batches of one file deterministic (the later row wins, whatever order the
-- batches commit in) and countable once. Both are nullable / defaulted: adding them rewrites nothing.
ALTER TABLE match_suggestions
  ADD COLUMN last_row bigint,
  ADD COLUMN job_writes integer NOT NULL DEFAULT 1;
