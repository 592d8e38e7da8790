-- Up Migration
-- Matchbridge schema, forward-only. Conventions:
--   * every table carries domain_id, and every index used by a query starts with it (queries are always
--     scoped by domain); unique keys are declared domain-first for the same reason;
--   * identifiers coming from other systems (reference ids, group ids, usernames, participant ids) use
--     COLLATE "C": they are compared, never sorted for people, and byte comparison keeps the upsert
--     indexes several times cheaper than a linguistic collation;
--   * no foreign key from imported data (nodes, match_suggestions, users) to domains or matching_groups:
--     an import must not depend on those rows existing;
--   * timestamps are timestamptz, counters bigint.

CREATE TABLE domains (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A matching group of a domain and how the daily user export treats it.
CREATE TABLE matching_groups (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  domain_id         uuid NOT NULL REFERENCES domains (id),
  -- The group id used everywhere else (nodes.group_id, messages, files).
  group_id          varchar(255) COLLATE "C" NOT NULL,
  name              text NOT NULL,
  industry          text,
  active            boolean NOT NULL DEFAULT true,
  -- Cost-based groups export full user rows as CSV.gz; the others send the list of usernames.
  cost_based        boolean NOT NULL DEFAULT false,
  export_enabled    boolean NOT NULL DEFAULT true,
  -- Kafka topic the export's import request goes to (by convention "<x>-users").
  export_topic      text,
  -- Incremental exports send the users updated since this instant (null: everything).
  last_exported_at  timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT matching_groups_domain_group_key UNIQUE (domain_id, group_id)
);
CREATE INDEX matching_groups_exportable_idx ON matching_groups (domain_id, group_id)
  WHERE active AND export_enabled;

-- Nodes of the matching engine, one per (domain, group, reference id).
-- last_job_id / last_line / job_writes are the loader's bookkeeping: which job and which line of its file
-- wrote the row last, and how many distinct lines of that job wrote it. They make cross-batch duplicates
-- of one file deterministic (the later line wins) and countable once, whatever order batches commit in.
CREATE TABLE nodes (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reference_id  varchar(255) COLLATE "C" NOT NULL,
  group_id      varchar(255) COLLATE "C" NOT NULL,
  domain_id     uuid NOT NULL,
  type          varchar(50) NOT NULL DEFAULT 'USER',
  processed     boolean NOT NULL DEFAULT false,
  last_job_id   uuid,
  last_line     bigint,
  job_writes    integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- The seeds' UNIQUE (group_id, domain_id, reference_id), domain first; ON CONFLICT infers it by columns.
  CONSTRAINT nodes_domain_group_reference_key UNIQUE (domain_id, group_id, reference_id)
);

CREATE TABLE node_metadata (
  node_id     uuid PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
  domain_id   uuid NOT NULL,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per import (nodes file, reference list, matches file, users file): the job of the design.
CREATE TABLE import_jobs (
  id                uuid PRIMARY KEY,
  kind              varchar(32) NOT NULL CHECK (kind IN ('nodes', 'matches', 'users')),
  domain_id         uuid NOT NULL,
  group_id          varchar(255) COLLATE "C" NOT NULL,
  status            varchar(16) NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
  total             bigint NOT NULL DEFAULT 0,
  processed         bigint NOT NULL DEFAULT 0,
  success_count     bigint NOT NULL DEFAULT 0,
  failed_count      bigint NOT NULL DEFAULT 0,
  duplicate_count   bigint NOT NULL DEFAULT 0,
  failure_reason    text,
  -- Where the data came from: s3://bucket/key, a local path, or "references:<n>" for a reference list.
  source            text NOT NULL,
  -- Who asked: kafka:<topic>/<partition>/<offset>, s3, cli, api…
  origin            text NOT NULL,
  -- The Step Functions execution (ARN, or the local run id) that processes the job.
  execution_id      text,
  success_list_uri  text,
  failed_list_uri   text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  finished_at       timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_jobs_domain_created_idx ON import_jobs (domain_id, created_at DESC, id);
CREATE INDEX import_jobs_created_idx ON import_jobs (created_at DESC, id);
-- Finds jobs left open after their execution ended.
CREATE INDEX import_jobs_open_idx ON import_jobs (domain_id, updated_at)
  WHERE status IN ('PENDING', 'PROCESSING');

-- Every row of a job that could not be loaded, by the physical line where its record starts.
CREATE TABLE import_job_errors (
  job_id      uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  line        bigint NOT NULL,
  domain_id   uuid NOT NULL,
  reference   text,
  code        varchar(64) NOT NULL,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT import_job_errors_job_line_key PRIMARY KEY (job_id, line)
);

-- The status messages of finished jobs, as published (Kafka, EventBridge), with their delivery state.
CREATE TABLE job_status_events (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id           uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  domain_id        uuid NOT NULL,
  topic            text NOT NULL,
  payload          jsonb NOT NULL,
  delivery_status  varchar(16) NOT NULL DEFAULT 'SENT' CHECK (delivery_status IN ('PENDING', 'SENT', 'FAILED')),
  delivery_error   text,
  published_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_status_events_job_idx ON job_status_events (job_id, id);
CREATE INDEX job_status_events_domain_created_idx ON job_status_events (domain_id, created_at DESC);
CREATE INDEX job_status_events_undelivered_idx ON job_status_events (domain_id, created_at)
  WHERE delivery_status <> 'SENT';

-- Match suggestions from the matching engine (Parquet imports).
CREATE TABLE match_suggestions (
  domain_id               uuid NOT NULL,
  group_id                varchar(255) COLLATE "C" NOT NULL,
  participant_id          varchar(255) COLLATE "C" NOT NULL,
  matched_participant_id  varchar(255) COLLATE "C" NOT NULL,
  compatibility_score     double precision NOT NULL,
  rank                    integer,
  details                 jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_job_id             uuid,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  -- The seeds' UNIQUE (group_id, domain_id, participant_id, matched_participant_id), domain first. It also
  -- serves "the suggestions of one participant".
  CONSTRAINT match_suggestions_pkey
    PRIMARY KEY (domain_id, group_id, participant_id, matched_participant_id)
);
CREATE INDEX match_suggestions_domain_group_updated_idx ON match_suggestions (domain_id, group_id, updated_at);

-- The dating profiles the daily export reads (and the bulk API imports and exports).
CREATE TABLE users (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  domain_id              uuid NOT NULL,
  group_id               varchar(255) COLLATE "C" NOT NULL,
  username               varchar(255) COLLATE "C" NOT NULL,
  display_name           text,
  gender                 text,
  date_of_birth          date,
  location               text,
  intent                 text,
  bio                    text,
  smokes                 boolean,
  drinks                 boolean,
  wants_kids             boolean,
  education              text,
  religion               text,
  occupation             text,
  preferred_genders      text[] NOT NULL DEFAULT '{}',
  preferred_min_age      smallint,
  preferred_max_age      smallint,
  relationship_type      text,
  open_to_long_distance  boolean,
  ready_for_matching     boolean NOT NULL DEFAULT false,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_domain_group_username_key UNIQUE (domain_id, group_id, username)
);
-- Incremental exports: the users of a group updated since the last export.
CREATE INDEX users_domain_group_updated_idx ON users (domain_id, group_id, updated_at);

-- Export runs: one row per (run, group) of the daily user export, or per API export request.
CREATE TABLE export_jobs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Groups exported by one scheduled run share its run id.
  run_id         uuid,
  domain_id      uuid NOT NULL,
  group_id       varchar(255) COLLATE "C",
  resource_type  varchar(32) NOT NULL DEFAULT 'users' CHECK (resource_type IN ('users', 'nodes', 'matches')),
  format         varchar(16) NOT NULL DEFAULT 'csv',
  cost_based     boolean,
  triggered_by   varchar(16) NOT NULL DEFAULT 'schedule',
  status         varchar(16) NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
  -- Users (or rows) written to the file, or usernames sent for a non-cost-based group.
  exported       bigint NOT NULL DEFAULT 0,
  file_uri       text,
  messages_sent  integer NOT NULL DEFAULT 0,
  error          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_jobs_domain_created_idx ON export_jobs (domain_id, created_at DESC);
CREATE INDEX export_jobs_run_idx ON export_jobs (run_id) WHERE run_id IS NOT NULL;
