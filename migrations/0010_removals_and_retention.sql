-- Up Migration
-- Removal through the export, and retention.

-- Tombstones of users that left the export: deleted while ready for matching, no longer ready, or moved to
-- another group or username. A trigger writes them, so every writer of `users` (the platform's own code,
-- the bulk API, plain SQL) is seen without changing it, and readers of `users` need no "deleted" filter as
-- soft deletes would ask of them. The incremental export sends the tombstones since its last run as
-- `removedUsernames`; retention deletes them with the export runs. A username only, no profile data.
CREATE TABLE user_removals (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  domain_id   uuid NOT NULL,
  group_id    varchar(255) COLLATE "C" NOT NULL,
  username    varchar(255) COLLATE "C" NOT NULL,
  removed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX user_removals_domain_group_removed_idx ON user_removals (domain_id, group_id, removed_at);
CREATE INDEX user_removals_removed_idx ON user_removals (removed_at);

CREATE FUNCTION record_user_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO user_removals (domain_id, group_id, username)
  VALUES (OLD.domain_id, OLD.group_id, OLD.username);
  RETURN NULL;
END;
$$;

-- Only rows that were ready can have become nodes; the WHEN clauses keep every other write free of the trigger.
CREATE TRIGGER users_removed AFTER DELETE ON users
  FOR EACH ROW WHEN (OLD.ready_for_matching) EXECUTE FUNCTION record_user_removal();
CREATE TRIGGER users_unready AFTER UPDATE OF ready_for_matching, group_id, username, domain_id ON users
  FOR EACH ROW
  WHEN (OLD.ready_for_matching AND (NOT NEW.ready_for_matching OR NEW.group_id <> OLD.group_id
        OR NEW.username <> OLD.username OR NEW.domain_id <> OLD.domain_id))
  EXECUTE FUNCTION record_user_removal();

-- Nodes a job removed (`removeReferenceIds`): counted apart from the rows of its source.
ALTER TABLE import_jobs ADD COLUMN removed_count bigint NOT NULL DEFAULT 0;

-- A removal deletes the match suggestions on both sides of a participant: the primary key serves one side,
-- match_suggestions_domain_group_matched_idx (0009, for erasures) the other.

-- Retention finds what is old by when it ended, in small slices.
CREATE INDEX import_jobs_finished_idx ON import_jobs (finished_at, id)
  WHERE status IN ('COMPLETED', 'FAILED');
CREATE INDEX export_jobs_finished_idx ON export_jobs (finished_at, id)
  WHERE status IN ('COMPLETED', 'FAILED');
CREATE INDEX api_idempotency_keys_expires_idx ON api_idempotency_keys (expires_at);
