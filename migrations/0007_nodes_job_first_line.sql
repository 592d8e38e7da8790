-- Up Migration
-- The line of last_job_id's file that first wrote the node: the one whose batch lists it in that job's
-- success list. A batch run again after a later line of the same job wrote the node is skipped by the
-- upsert, and still lists the node when its line is this one.
ALTER TABLE nodes ADD COLUMN job_first_line bigint;
