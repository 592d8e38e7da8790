import type pg from 'pg';
import { query } from '../db/query.ts';
import { InvalidFileError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';
import type { PlannedPart } from '../parquet/plan-parts.ts';

/**
 * Joins each failed row `e` (an `import_job_errors` row) to the part of a sharded source holding it: the last
 * part starting before its line, as `p` (`name`, `first_row`; NULL for a job of one file). Its row in the part
 * is `e.line - 1 - p.first_row`.
 */
export const PART_OF_ERROR_JOIN = `LEFT JOIN LATERAL (
    SELECT name, first_row FROM import_job_parts
    WHERE job_id = e.job_id AND first_row < e.line
    ORDER BY first_row DESC LIMIT 1
  ) p ON true`;

/**
 * Records the parts of a job's sharded source (`import_job_parts`), in one statement. A job planned again
 * (`jobs resume`, a re-run execution) records the same parts: its source pin, a digest of them, was checked
 * first (`pinJobSource`), so the rows already there are kept as they are.
 */
export async function recordJobParts(
  pool: pg.Pool,
  jobId: string,
  parts: readonly PlannedPart[],
): Promise<void> {
  await query(
    pool,
    `INSERT INTO import_job_parts (job_id, part, uri, name, pin, first_row, rows)
     SELECT $1::uuid, * FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::bigint[])
     ON CONFLICT (job_id, part) DO NOTHING`,
    [
      jobId,
      parts.map((part) => part.index),
      parts.map((part) => part.uri),
      parts.map((part) => part.name),
      parts.map((part) => JSON.stringify(part.pin)),
      parts.map((part) => part.firstRow),
      parts.map((part) => part.rows),
    ],
  );
}

/** A recorded part: where a batch reads it, and which version. */
export interface JobPart {
  readonly uri: string;
  readonly name: string;
  readonly pin: SourcePin;
  readonly firstRow: number;
}

/**
 * The recorded part `index` of a job.
 * @throws InvalidFileError `UNKNOWN_PART` when the job recorded no such part (a batch of another plan).
 */
export async function readJobPart(pool: pg.Pool, jobId: string, index: number): Promise<JobPart> {
  const result = await query<{ uri: string; name: string; pin: SourcePin; first_row: string }>(
    pool,
    'SELECT uri, name, pin, first_row FROM import_job_parts WHERE job_id = $1 AND part = $2',
    [jobId, index],
  );
  const row = result.rows[0];
  if (!row) {
    throw new InvalidFileError('UNKNOWN_PART', `job ${jobId} recorded no part ${index}`, {
      jobId,
      part: index,
    });
  }
  return { uri: row.uri, name: row.name, pin: row.pin, firstRow: Number(row.first_row) };
}

/** Whether the job's source is sharded: it recorded parts. */
export async function hasJobParts(pool: pg.Pool, jobId: string): Promise<boolean> {
  const result = await query(pool, 'SELECT 1 FROM import_job_parts WHERE job_id = $1 LIMIT 1', [jobId]);
  return result.rows.length > 0;
}
