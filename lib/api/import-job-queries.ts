import type pg from 'pg';
import { query } from '../db/query.ts';
import { PART_OF_ERROR_JOIN } from '../jobs/job-part-repository.ts';
import {
  type JobProgressRead,
  PROGRESS_COLUMNS,
  type ProgressRecord,
  progressFromRow,
} from '../jobs/job-progress.ts';
import { AWAITING_UPLOAD } from './import-jobs.ts';

/** What `GET /v1/imports/{job_id}` shows of a job, read in one statement. */
export interface ImportJobView {
  readonly id: string;
  readonly kind: string;
  readonly domainId: string;
  readonly format: string | null;
  readonly status: string;
  readonly total: number;
  readonly processed: number;
  readonly failedCount: number;
  /** Rows not written for their as-of: the final count, or the running counter while the job runs. */
  readonly staleCount: number;
  readonly failedListUri: string | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
  /** The running counters, and when they last moved. */
  readonly progress: JobProgressRead;
}

/** A job of any origin, or `undefined` when there is none. */
export async function readImportJobView(pool: pg.Pool, jobId: string): Promise<ImportJobView | undefined> {
  const result = await query<
    ProgressRecord & {
      id: string;
      kind: string;
      domain_id: string;
      format: string | null;
      processed: string;
      failed_count: string;
      stale_count: string;
      failed_list_uri: string | null;
      failure_code: string | null;
      failure_message: string | null;
      created_at: Date;
      finished_at: Date | null;
    }
  >(
    pool,
    `SELECT id, kind, domain_id, format, processed, failed_count, failed_list_uri,
            CASE WHEN status IN ('COMPLETED', 'FAILED') THEN stale_count ELSE rows_stale END AS stale_count,
            failure_code, failure_message, created_at, finished_at, ${PROGRESS_COLUMNS}
     FROM import_jobs WHERE id = $1`,
    [jobId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    kind: row.kind,
    domainId: row.domain_id,
    format: row.format,
    status: row.status,
    total: Number(row.total),
    processed: Number(row.processed),
    failedCount: Number(row.failed_count),
    staleCount: Number(row.stale_count),
    failedListUri: row.failed_list_uri,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    progress: progressFromRow(row),
  };
}

/**
 * One failed row of a job: its line in the stored numbering and why it failed; for a job of a sharded
 * source, also its part (name under the source's folder) and its 0-based row in the part.
 */
export interface ImportRowErrors {
  readonly line: number;
  readonly errors: string[];
  readonly part?: string;
  readonly partRow?: number;
}

/** Up to `limit` failed rows of a job after line `afterLine`, in line order. */
export async function listImportRowErrors(
  pool: pg.Pool,
  jobId: string,
  afterLine: number,
  limit: number,
): Promise<ImportRowErrors[]> {
  const result = await query<{
    line: string;
    errors: string[];
    part: string | null;
    part_row: string | null;
  }>(
    pool,
    `SELECT e.line, coalesce(e.errors, ARRAY[e.reason]) AS errors, p.name AS part,
            e.line - 1 - p.first_row AS part_row
     FROM import_job_errors e
     ${PART_OF_ERROR_JOIN}
     WHERE e.job_id = $1 AND e.line > $2 ORDER BY e.line LIMIT $3`,
    [jobId, afterLine, limit],
  );
  return result.rows.map((row) => ({
    line: Number(row.line),
    errors: row.errors,
    ...(row.part !== null ? { part: row.part, partRow: Number(row.part_row) } : {}),
  }));
}

/** What an upload to a job created by the API needs to know of it. */
export interface UploadTarget {
  readonly kind: string;
  readonly format: string;
  readonly domainId: string;
  readonly groupId: string;
  readonly createdAt: Date;
  readonly dryRun: boolean;
}

/** A job the API created, or `undefined` when there is none (jobs of other origins take no uploads). */
export async function readUploadTarget(pool: pg.Pool, jobId: string): Promise<UploadTarget | undefined> {
  const result = await query<{
    kind: string;
    format: string;
    domain_id: string;
    group_id: string;
    created_at: Date;
    dry_run: boolean;
  }>(
    pool,
    `SELECT kind, format, domain_id, group_id, created_at, dry_run FROM import_jobs
     WHERE id = $1 AND origin = 'api'`,
    [jobId],
  );
  const row = result.rows[0];
  return row
    ? {
        kind: row.kind,
        format: row.format,
        domainId: row.domain_id,
        groupId: row.group_id,
        createdAt: row.created_at,
        dryRun: row.dry_run,
      }
    : undefined;
}

/**
 * Points a PENDING job still awaiting its file at `uri`; `false` when it is not awaiting one. One statement,
 * so that of two uploads to one job only one can claim it.
 */
export async function claimUpload(pool: pg.Pool, jobId: string, uri: string): Promise<boolean> {
  const claimed = await query(
    pool,
    `UPDATE import_jobs SET source = $2, updated_at = now() WHERE id = $1 AND source = $3 AND status = 'PENDING'`,
    [jobId, uri, AWAITING_UPLOAD],
  );
  return claimed.rowCount !== 0;
}

/** Gives a claimed job back to uploads, after its file could not be staged. */
export async function releaseUpload(pool: pg.Pool, jobId: string): Promise<void> {
  await query(pool, `UPDATE import_jobs SET source = $2 WHERE id = $1`, [jobId, AWAITING_UPLOAD]);
}
