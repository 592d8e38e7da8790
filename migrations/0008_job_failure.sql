-- Up Migration
-- Why a job failed, for its caller, when it failed for a reason other than its rows: a stable code, and the
-- error's message only when it is safe to show (failure_reason keeps the whole story for operators).
ALTER TABLE import_jobs ADD COLUMN failure_code varchar(64), ADD COLUMN failure_message text;
ALTER TABLE export_jobs ADD COLUMN failure_code varchar(64), ADD COLUMN failure_message text;
