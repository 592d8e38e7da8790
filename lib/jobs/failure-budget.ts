import type pg from 'pg';
import { query } from '../db/query.ts';
import { FailureBudgetExceededError } from '../errors.ts';

/** A job's rows as its committed DB batches and its recorded rejections count them so far. */
export interface RowsSoFar {
  readonly total: number;
  readonly written: number;
  readonly duplicates: number;
  readonly failed: number;
  readonly stale: number;
}

/**
 * Fails a batch of a job whose failed rows passed its budget: more than `toleratedPercent` of the job's
 * rows, or more than the job's `maxFailedRows`. Such a job can no longer complete, so its batches stop at
 * their next DB batch instead of reading the rest of the file. With no absolute bound, a percentage of 100
 * tolerates everything, and one of 0 (the default) keeps the seeds' rule: every good row loads and the
 * failed list is complete; neither costs a query.
 *
 * @throws FailureBudgetExceededError `FAILURE_BUDGET_EXCEEDED`.
 */
export async function checkFailureBudget(
  pool: pg.Pool,
  jobId: string,
  toleratedPercent: number,
): Promise<void> {
  const { rows } = await query<{ total: string; max_failed_rows: string | null; failed: string }>(
    pool,
    `SELECT total, max_failed_rows,
       (SELECT count(*) FROM import_job_errors WHERE job_id = $1) AS failed
     FROM import_jobs WHERE id = $1 AND (max_failed_rows IS NOT NULL OR (0 < $2 AND $2 < 100))`,
    [jobId, toleratedPercent],
  );
  const row = rows[0];
  if (!row) return;
  const failed = Number(row.failed);
  const total = Number(row.total);
  const max = row.max_failed_rows === null ? undefined : Number(row.max_failed_rows);
  const overPercent = toleratedPercent > 0 && failed * 100 > total * toleratedPercent;
  if ((max !== undefined && failed > max) || overPercent) {
    throw new FailureBudgetExceededError(
      `${failed} of ${total} rows failed, past the job's failure budget (${toleratedPercent}%${
        max === undefined ? '' : ` or ${max} rows`
      }): its remaining batches were cancelled`,
      { failed, total, toleratedPercent, maxFailedRows: max },
    );
  }
}

/** What a job's committed DB batches wrote, and the rejections it recorded, for a job stopped early. */
export async function rowsSoFar(pool: pg.Pool, jobId: string): Promise<RowsSoFar> {
  const { rows } = await query<{
    total: string;
    staged: string;
    written: string;
    failed: string;
    stale: string;
  }>(
    pool,
    `SELECT (SELECT total FROM import_jobs WHERE id = $1) AS total,
       coalesce(sum(row_count), 0) AS staged, coalesce(sum(inserted + updated), 0) AS written,
       coalesce(sum(stale), 0) AS stale,
       (SELECT count(*) FROM import_job_errors WHERE job_id = $1) AS failed
     FROM import_job_db_batches WHERE job_id = $1`,
    [jobId],
  );
  const row = rows[0]!;
  const failed = Number(row.failed);
  const written = Number(row.written);
  const stale = Number(row.stale);
  return {
    total: Number(row.total),
    written,
    failed,
    stale,
    duplicates: Math.max(0, Number(row.staged) - written - failed - stale),
  };
}
