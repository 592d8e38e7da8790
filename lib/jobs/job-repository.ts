import type pg from 'pg';
import { checkoutClient, releaseClient, rollback } from '../db/pool.ts';
import { query } from '../db/query.ts';
import { InvalidRequestError, type JobFailure, JobNotFoundError } from '../errors.ts';
import type {
  BatchIdentity,
  BatchResult,
  ImportExecutionInput,
  ImportKind,
  JobRef,
  JobStatus,
  JobStatusMessage,
} from '../model/types.ts';

/** An `import_jobs` row. `jobId` repeats `id` so that a row is a {@link JobRef}. */
export interface ImportJobRow extends JobRef {
  readonly id: string;
  readonly status: JobStatus;
  readonly total: number;
  readonly processed: number;
  readonly successCount: number;
  readonly failedCount: number;
  readonly duplicateCount: number;
  readonly failureReason: string | null;
  readonly source: string;
  readonly origin: string;
  readonly executionId: string | null;
  readonly successListUri: string | null;
  readonly failedListUri: string | null;
  /** A dry run: counted and reported, nothing written to the target tables. */
  readonly dryRun: boolean;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly updatedAt: Date;
}

/** A job in a final state: what completeJob and failJob return. */
export type FinalImportJobRow = ImportJobRow & { readonly status: 'COMPLETED' | 'FAILED' };

/** What creates a job row. */
export interface NewImportJob extends JobRef {
  /** Where the data is: `s3://…`, a local path, `references:<n>`. */
  readonly source: string;
  /** Where the request came from: `kafka:<topic>/<partition>/<offset>`, `cli`, `s3`, `api`. */
  readonly origin: string;
  /** The execution processing the job (Step Functions ARN or local run id). */
  readonly executionId?: string;
}

/** The final figures of a job. */
export interface JobOutcome {
  readonly status: 'COMPLETED' | 'FAILED';
  readonly total: number;
  readonly processed: number;
  readonly successCount: number;
  readonly failedCount: number;
  readonly duplicateCount: number;
  readonly failureReason?: string;
  readonly successListUri?: string;
  readonly failedListUri?: string;
}

/** One failed row of a job, as recorded by the loader. */
export interface JobError {
  readonly line: number;
  readonly reference: string | null;
  readonly code: string;
  readonly reason: string;
}

/** Delivery state of a recorded status message. */
export type DeliveryStatus = 'PENDING' | 'SENT' | 'FAILED';

const JOB_COLUMNS = `id, kind, domain_id, group_id, status, total, processed, success_count, failed_count,
  duplicate_count, failure_reason, source, origin, execution_id, success_list_uri, failed_list_uri,
  created_at, started_at, finished_at, updated_at, dry_run`;

const FINAL = `('COMPLETED', 'FAILED')`;

/** Rows fetched per round trip by {@link streamJobErrors}. */
const ERROR_FETCH_ROWS = 1000;

interface JobRecord {
  id: string;
  kind: string;
  domain_id: string;
  group_id: string;
  status: JobStatus;
  total: string;
  processed: string;
  success_count: string;
  failed_count: string;
  duplicate_count: string;
  failure_reason: string | null;
  source: string;
  origin: string;
  execution_id: string | null;
  success_list_uri: string | null;
  failed_list_uri: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  dry_run: boolean;
}

function toJobRow(r: JobRecord): ImportJobRow {
  return {
    id: r.id,
    jobId: r.id,
    kind: r.kind as ImportKind,
    domainId: r.domain_id,
    groupId: r.group_id,
    status: r.status,
    total: Number(r.total),
    processed: Number(r.processed),
    successCount: Number(r.success_count),
    failedCount: Number(r.failed_count),
    duplicateCount: Number(r.duplicate_count),
    failureReason: r.failure_reason,
    source: r.source,
    origin: r.origin,
    executionId: r.execution_id,
    successListUri: r.success_list_uri,
    failedListUri: r.failed_list_uri,
    dryRun: r.dry_run,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

function asFinal(row: ImportJobRow): FinalImportJobRow | undefined {
  return row.status === 'COMPLETED' || row.status === 'FAILED' ? (row as FinalImportJobRow) : undefined;
}

/**
 * Creates the job row (PENDING) unless it exists, then claims it: PENDING → PROCESSING with `started_at`.
 * Idempotent by job id. `claimed` is true when this call moved the job to PROCESSING, or when the job is
 * already PROCESSING for the same `executionId` (a retried step of the same execution); it is false for a
 * job processed by another execution or already COMPLETED/FAILED, which is returned as it is.
 *
 * @throws InvalidRequestError `JOB_ID_CONFLICT` when the id belongs to a job of another domain.
 */
export async function createOrClaimJob(
  pool: pg.Pool,
  job: NewImportJob,
): Promise<{ job: ImportJobRow; claimed: boolean }> {
  const executionId = job.executionId ?? null;
  await query(
    pool,
    `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin, execution_id)
     VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [job.jobId, job.kind, job.domainId, job.groupId, job.source, job.origin, executionId],
  );
  const claim = await query<JobRecord>(
    pool,
    `UPDATE import_jobs
     SET status = 'PROCESSING', started_at = coalesce(started_at, now()), updated_at = now(),
         execution_id = coalesce($3, execution_id)
     WHERE id = $1 AND domain_id = $2
       AND (status = 'PENDING' OR (status = 'PROCESSING' AND $3::text IS NOT NULL AND execution_id = $3::text))
     RETURNING ${JOB_COLUMNS}`,
    [job.jobId, job.domainId, executionId],
  );
  const claimed = claim.rows[0];
  if (claimed) return { job: toJobRow(claimed), claimed: true };
  const existing = await getJob(pool, job.jobId, job.domainId);
  if (!existing) {
    throw new InvalidRequestError(
      'JOB_ID_CONFLICT',
      `job id ${job.jobId} is already used in another domain`,
      {
        jobId: job.jobId,
      },
    );
  }
  return { job: existing, claimed: false };
}

/** Creates or claims the job an execution runs (the plan step's first act), from the execution input. */
export function claimImportJob(
  pool: pg.Pool,
  input: ImportExecutionInput,
  executionId?: string,
): Promise<{ job: ImportJobRow; claimed: boolean }> {
  return createOrClaimJob(pool, {
    jobId: input.jobId,
    kind: input.kind,
    domainId: input.domainId,
    groupId: input.groupId,
    source: input.source.uri,
    origin: input.origin,
    ...(executionId ? { executionId } : {}),
  });
}

/** Records the number of data rows the plan found. A job in a final state is left as it is. */
export async function setJobTotal(pool: pg.Pool, jobId: string, total: number): Promise<void> {
  const updated = await query(
    pool,
    `UPDATE import_jobs SET total = $2, updated_at = now() WHERE id = $1 AND status NOT IN ${FINAL}`,
    [jobId, total],
  );
  if (updated.rowCount === 0 && !(await getJob(pool, jobId))) throw jobNotFound(jobId);
}

/**
 * Puts a job in its final state with its figures. A job already COMPLETED or FAILED is never overwritten:
 * it is returned as it is (a retried finalize step is harmless).
 */
export async function completeJob(
  pool: pg.Pool,
  jobId: string,
  outcome: JobOutcome,
): Promise<FinalImportJobRow> {
  const result = await query<JobRecord>(
    pool,
    `UPDATE import_jobs
     SET status = $2, total = $3, processed = $4, success_count = $5, failed_count = $6, duplicate_count = $7,
         failure_reason = $8, success_list_uri = $9, failed_list_uri = $10,
         started_at = coalesce(started_at, now()), finished_at = now(), updated_at = now()
     WHERE id = $1 AND status NOT IN ${FINAL}
     RETURNING ${JOB_COLUMNS}`,
    [
      jobId,
      outcome.status,
      outcome.total,
      outcome.processed,
      outcome.successCount,
      outcome.failedCount,
      outcome.duplicateCount,
      outcome.failureReason ?? null,
      outcome.successListUri ?? null,
      outcome.failedListUri ?? null,
    ],
  );
  return finalRow(pool, jobId, result.rows[0]);
}

/**
 * Moves a PENDING or PROCESSING job to FAILED with `reason` (for operators) and `failure` (for its caller);
 * a job already in a final state is returned untouched. When the row does not exist (the execution failed before its plan step created it) and
 * `ifMissing` is given, the job is recorded as FAILED from it.
 *
 * @throws JobNotFoundError when there is no such job and no `ifMissing`.
 */
export async function failJob(
  pool: pg.Pool,
  jobId: string,
  reason: string,
  failure: JobFailure,
  ifMissing?: ImportExecutionInput,
): Promise<FinalImportJobRow> {
  const result = await query<JobRecord>(
    pool,
    `UPDATE import_jobs
     SET status = 'FAILED', failure_reason = $2, failure_code = $3, failure_message = $4, finished_at = now(),
         updated_at = now()
     WHERE id = $1 AND status NOT IN ${FINAL}
     RETURNING ${JOB_COLUMNS}`,
    [jobId, reason, failure.code, failure.message ?? null],
  );
  if (!result.rows[0] && ifMissing) {
    const inserted = await query<JobRecord>(
      pool,
      `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin, failure_reason,
                                failure_code, failure_message, started_at, finished_at)
       VALUES ($1, $2, $3, $4, 'FAILED', $5, $6, $7, $8, $9, now(), now())
       ON CONFLICT (id) DO NOTHING
       RETURNING ${JOB_COLUMNS}`,
      [
        jobId,
        ifMissing.kind,
        ifMissing.domainId,
        ifMissing.groupId,
        ifMissing.source.uri,
        ifMissing.origin,
        reason,
        failure.code,
        failure.message ?? null,
      ],
    );
    // A row that appeared meanwhile is handled like any other: failed unless already final.
    if (!inserted.rows[0]) return failJob(pool, jobId, reason, failure);
    return finalRow(pool, jobId, inserted.rows[0]);
  }
  return finalRow(pool, jobId, result.rows[0]);
}

async function finalRow(
  pool: pg.Pool,
  jobId: string,
  updated: JobRecord | undefined,
): Promise<FinalImportJobRow> {
  const row = updated ? toJobRow(updated) : await getJob(pool, jobId);
  if (!row) throw jobNotFound(jobId);
  const final = asFinal(row);
  // Unreachable: the row was either just finalised or not updatable because it already was final.
  if (!final) throw new Error(`job ${jobId} is ${row.status} after being finalised`);
  return final;
}

function jobNotFound(jobId: string): JobNotFoundError {
  return new JobNotFoundError(`no import job ${jobId}`, { jobId });
}

/** The job, or undefined when there is none (in that domain, when given). */
export async function getJob(
  pool: pg.Pool,
  jobId: string,
  domainId?: string,
): Promise<ImportJobRow | undefined> {
  const result = await query<JobRecord>(
    pool,
    `SELECT ${JOB_COLUMNS} FROM import_jobs WHERE id = $1 AND ($2::uuid IS NULL OR domain_id = $2::uuid)`,
    [jobId, domainId ?? null],
  );
  const row = result.rows[0];
  return row ? toJobRow(row) : undefined;
}

/** The most recent jobs first (of one domain, when given). */
export async function listJobs(
  pool: pg.Pool,
  opts: { readonly limit: number; readonly domainId?: string },
): Promise<ImportJobRow[]> {
  const result = opts.domainId
    ? await query<JobRecord>(
        pool,
        `SELECT ${JOB_COLUMNS} FROM import_jobs WHERE domain_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
        [opts.domainId, opts.limit],
      )
    : await query<JobRecord>(
        pool,
        `SELECT ${JOB_COLUMNS} FROM import_jobs ORDER BY created_at DESC, id DESC LIMIT $1`,
        [opts.limit],
      );
  return result.rows.map(toJobRow);
}

/**
 * Every failed row of a job, ordered by line, read through a server-side cursor in pages of
 * {@link ERROR_FETCH_ROWS}: memory stays flat whatever the number of errors. Holds one pooled connection
 * until the iteration ends (or is abandoned).
 */
export async function* streamJobErrors(pool: pg.Pool, jobId: string): AsyncGenerator<JobError> {
  const client = await checkoutClient(pool);
  let open = false;
  let broken: Error | undefined;
  try {
    await query(client, 'BEGIN READ ONLY');
    open = true;
    await query(
      client,
      `DECLARE job_errors NO SCROLL CURSOR FOR
       SELECT line, reference, code, reason FROM import_job_errors WHERE job_id = $1 ORDER BY line`,
      [jobId],
    );
    while (true) {
      const page = await query<{ line: string; reference: string | null; code: string; reason: string }>(
        client,
        `FETCH ${ERROR_FETCH_ROWS} FROM job_errors`,
      );
      for (const r of page.rows) {
        yield { line: Number(r.line), reference: r.reference, code: r.code, reason: r.reason };
      }
      if (page.rows.length < ERROR_FETCH_ROWS) break;
    }
    await query(client, 'COMMIT');
    open = false;
  } finally {
    // Reached with the transaction open on an error or an abandoned iteration (a break in the consumer).
    if (open) broken = await rollback(client);
    releaseClient(client, broken);
  }
}

/**
 * Records a status message of a job (as published, or to be published: `delivery`), in the job's domain.
 * Returns the event id.
 *
 * @throws JobNotFoundError when there is no such job.
 */
export async function recordStatusEvent(
  pool: pg.Pool,
  jobId: string,
  topic: string,
  payload: JobStatusMessage | Readonly<Record<string, unknown>>,
  delivery: { readonly status?: DeliveryStatus; readonly error?: string } = {},
): Promise<string> {
  const status = delivery.status ?? 'SENT';
  const result = await query<{ id: string }>(
    pool,
    `INSERT INTO job_status_events (job_id, domain_id, topic, payload, delivery_status, delivery_error, published_at)
     SELECT j.id, j.domain_id, $2::text, $3::jsonb, $4::varchar, $5::text, CASE WHEN $4::varchar = 'SENT' THEN now() END
     FROM import_jobs j WHERE j.id = $1
     RETURNING id`,
    [jobId, topic, JSON.stringify(payload), status, delivery.error ?? null],
  );
  const row = result.rows[0];
  if (!row) throw jobNotFound(jobId);
  return row.id;
}

/** The payload of the job's latest recorded status message, or undefined when none was recorded. */
export async function getLatestStatusEvent(
  pool: pg.Pool,
  jobId: string,
  domainId?: string,
): Promise<JobStatusMessage | undefined> {
  const result = await query<{ payload: JobStatusMessage }>(
    pool,
    `SELECT payload FROM job_status_events
     WHERE job_id = $1 AND ($2::uuid IS NULL OR domain_id = $2::uuid)
     ORDER BY id DESC LIMIT 1`,
    [jobId, domainId ?? null],
  );
  return result.rows[0]?.payload;
}

interface BatchRecord {
  batch_index: number;
  row_count: string;
  inserted: string;
  updated: string;
  duplicates: string;
  failed: string;
}

function toBatchResult(row: BatchRecord): BatchResult {
  return {
    index: row.batch_index,
    status: 'SUCCEEDED',
    rows: Number(row.row_count),
    inserted: Number(row.inserted),
    updated: Number(row.updated),
    duplicates: Number(row.duplicates),
    failed: Number(row.failed),
  };
}

const BATCH_COLUMNS = 'batch_index, row_count, inserted, updated, duplicates, failed';

/** The recorded result of a batch that completed the same work, if it did. */
export async function getCompletedBatch(
  pool: pg.Pool,
  jobId: string,
  batch: BatchIdentity,
): Promise<BatchResult | undefined> {
  const result = await query<BatchRecord>(
    pool,
    `SELECT ${BATCH_COLUMNS} FROM import_job_batches WHERE job_id = $1 AND batch_index = $2 AND batch_key = $3`,
    [jobId, batch.index, batch.key],
  );
  const row = result.rows[0];
  return row ? toBatchResult(row) : undefined;
}

/**
 * Records a batch's completion and returns the recorded result: this one, or the one a concurrent run of the
 * same batch recorded first (both wrote the same rows; the first counts are those of a single run).
 */
export async function recordCompletedBatch(
  pool: pg.Pool,
  jobId: string,
  batch: BatchIdentity,
  result: BatchResult,
  durationMs: number,
): Promise<BatchResult> {
  await query(
    pool,
    `INSERT INTO import_job_batches
       (job_id, batch_index, batch_key, row_count, inserted, updated, duplicates, failed, duration_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (job_id, batch_index, batch_key) DO NOTHING`,
    [
      jobId,
      batch.index,
      batch.key,
      result.rows,
      result.inserted,
      result.updated,
      result.duplicates,
      result.failed,
      Math.round(durationMs),
    ],
  );
  return (await getCompletedBatch(pool, jobId, batch)) ?? result;
}
