-- Up Migration
-- The version of its source object a job planned against (ETag / VersionId, or a local file's size and
-- modification time): a resumed job plans again and must find the same version, or fail SOURCE_CHANGED
-- instead of mixing batches of two files.
ALTER TABLE import_jobs ADD COLUMN source_pin jsonb;
-- A dry run: the whole job, its counts and reports, and no write to the target tables.
ALTER TABLE import_jobs ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
-- The most failed rows a job may have before its remaining batches are cancelled (besides the tolerated
-- percentage); NULL: no absolute bound.
ALTER TABLE import_jobs ADD COLUMN max_failed_rows bigint;
