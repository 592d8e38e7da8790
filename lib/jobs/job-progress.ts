import type pg from 'pg';
import { query } from '../db/query.ts';
import { deriveProgress, type JobCounters, type JobProgress } from '../model/progress.ts';
import type { JobStatus } from '../model/types.ts';

/** A job's progress as read: its counters, what they give, and the sequence number of their last move. */
export interface JobProgressRead {
  readonly counters: JobCounters;
  readonly progress: JobProgress;
  /** Moves with every change a watcher should see: counters, plan, status. */
  readonly seq: number;
}

/** The columns {@link progressFromRow} reads, for a query over `import_jobs`. */
export const PROGRESS_COLUMNS =
  'status, total, rows_done, rows_written, rows_failed, batches_done, batches_total, started_at, progress_at, progress_seq';

/** The progress columns of an `import_jobs` row. */
export interface ProgressRecord {
  status: JobStatus;
  total: string;
  rows_done: string;
  rows_written: string;
  rows_failed: string;
  batches_done: number;
  batches_total: number | null;
  started_at: Date | null;
  progress_at: Date | null;
  progress_seq: string;
}

/** A job's progress from the {@link PROGRESS_COLUMNS} of its row. */
export function progressFromRow(row: ProgressRecord): JobProgressRead {
  const counters: JobCounters = {
    status: row.status,
    total: Number(row.total),
    rowsDone: Number(row.rows_done),
    rowsWritten: Number(row.rows_written),
    rowsFailed: Number(row.rows_failed),
    batchesDone: row.batches_done,
    batchesTotal: row.batches_total,
    startedAt: row.started_at,
    progressAt: row.progress_at,
  };
  return { counters, progress: deriveProgress(counters), seq: Number(row.progress_seq) };
}

/** The progress of a job, or undefined when there is no such job. */
export async function readJobProgress(pool: pg.Pool, jobId: string): Promise<JobProgressRead | undefined> {
  const result = await query<ProgressRecord>(
    pool,
    `SELECT ${PROGRESS_COLUMNS} FROM import_jobs WHERE id = $1`,
    [jobId],
  );
  const row = result.rows[0];
  return row ? progressFromRow(row) : undefined;
}
