import type pg from 'pg';
import { query } from '../db/query.ts';
import type { BatchIdentity, BatchResult } from '../model/types.ts';

interface BatchRecord {
  batch_index: number;
  row_count: string;
  inserted: string;
  updated: string;
  duplicates: string;
  failed: string;
  stale: string;
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
    stale: Number(row.stale),
  };
}

const BATCH_COLUMNS = 'batch_index, row_count, inserted, updated, duplicates, failed, stale';

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
 * same batch recorded first (both wrote the same rows; the first counts are those of a single run). Only a
 * record inserted now counts the batch done in the job's progress.
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
    `WITH rec AS (
       INSERT INTO import_job_batches
         (job_id, batch_index, batch_key, row_count, inserted, updated, duplicates, failed, duration_ms, stale)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (job_id, batch_index, batch_key) DO NOTHING
       RETURNING job_id
     )
     UPDATE import_jobs SET batches_done = batches_done + 1, progress_seq = progress_seq + 1,
            progress_at = clock_timestamp()
     WHERE id = (SELECT job_id FROM rec)`,
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
      result.stale ?? 0,
    ],
  );
  return (await getCompletedBatch(pool, jobId, batch)) ?? result;
}
