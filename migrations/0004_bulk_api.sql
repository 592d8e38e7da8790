-- Up Migration
-- The bulk HTTP API (v1).

-- Idempotency keys of POST requests, scoped by the caller's domain. A key is IN_PROGRESS while its first
-- request runs (a twin meanwhile gets 409; `locked_until` frees a key whose request died), then COMPLETED with
-- the response it gave, replayed to a repeat of the same request (same `request_hash`) until `expires_at`.
CREATE TABLE api_idempotency_keys (
  domain_id        uuid NOT NULL,
  key              varchar(255) NOT NULL,
  request_hash     char(64) NOT NULL,
  status           varchar(16) NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
  response_status  smallint,
  response_body    jsonb,
  locked_until     timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT api_idempotency_keys_pkey PRIMARY KEY (domain_id, key)
);

-- Which domain an authenticated caller (the IAM principal API Gateway reports) acts for.
CREATE TABLE api_callers (
  principal   text PRIMARY KEY,
  domain_id   uuid NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every error of a failed row (validation reports them all); `reason` keeps them joined for the reports.
ALTER TABLE import_job_errors ADD COLUMN errors text[];

-- The file format an API import was given in (csv, ndjson, parquet); null for the other origins.
ALTER TABLE import_jobs ADD COLUMN format varchar(16);

-- What an API export was asked for: {group_id?, updated_since?, fields?}.
ALTER TABLE export_jobs ADD COLUMN request jsonb;
