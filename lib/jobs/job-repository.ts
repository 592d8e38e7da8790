import type pg from 'pg';
import { query } from '../db/query.ts';
import { InvalidRequestError, type JobFailure, JobNotFoundError } from '../errors.ts';
import type { ImportExecutionInput, ImportKind, JobRef, JobStatus } from '../model/types.ts';

/** An `import_jobs` row. `jobId` repeats `id` so that a row is a {@link JobRef}. */
export interface ImportJobRow extends JobRef {
  readonly id: string;
  readonly status: JobStatus;
  readonly total: number;
  readonly processed: number;
  readonly successCount: number;
  readonly failedCount: number;
  readonly duplicateCount: number;
  /** Rows not written because their node (or pair) held data of a newer as-of. */
  readonly staleCount: number;
  /** The as-of of the job's rows, fixed by its first plan; null before it (or for jobs from before as-of). */
  readonly asOf: Date | null;
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
  /** Default 0. */
  readonly staleCount?: number;
  readonly failureReason?: string;
  readonly successListUri?: string;
  readonly failedListUri?: string;
}

const JOB_COLUMNS = `id, kind, domain_id, group_id, status, total, processed, success_count, failed_count,
  duplicate_count, failure_reason, source, origin, execution_id, success_list_uri, failed_list_uri,
  created_at, started_at, finished_at, updated_at, dry_run, stale_count, as_of`;

const FINAL = `('COMPLETED', 'FAILED')`;

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
  stale_count: string;
  as_of: Date | null;
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
    staleCount: Number(r.stale_count),
    asOf: r.as_of,
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
         execution_id = coalesce($3, execution_id), progress_seq = progress_seq + 1
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

/**
 * Records the number of data rows the plan found, and its batches when given (the progress of a running job
 * is read against them). A job in a final state is left as it is.
 */
export async function setJobTotal(
  pool: pg.Pool,
  jobId: string,
  total: number,
  batchesTotal?: number,
): Promise<void> {
  const updated = await query(
    pool,
    `UPDATE import_jobs SET total = $2, batches_total = coalesce($3, batches_total),
            progress_seq = progress_seq + 1, updated_at = now()
     WHERE id = $1 AND status NOT IN ${FINAL}`,
    [jobId, total, batchesTotal ?? null],
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
         failure_reason = $8, success_list_uri = $9, failed_list_uri = $10, stale_count = $11,
         started_at = coalesce(started_at, now()), finished_at = now(), updated_at = now(),
         progress_seq = progress_seq + 1
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
      outcome.staleCount ?? 0,
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
         updated_at = now(), progress_seq = progress_seq + 1
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

export function jobNotFound(jobId: string): JobNotFoundError {
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
