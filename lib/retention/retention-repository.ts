import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import { query } from '../db/query.ts';

/** The instants before which finished things may go. */
export interface Cutoffs {
  /** Import jobs other than match imports (nodes, users…) finished before this. */
  readonly importJobs: Date;
  /** Match import jobs finished before this. */
  readonly matchJobs: Date;
  /** Export runs finished (and removal tombstones written) before this. */
  readonly exportRuns: Date;
  /** Now: API idempotency keys that expired before it. */
  readonly now: Date;
}

/**
 * An import job that may be pruned, as SQL over alias `j`: final (COMPLETED or FAILED) and finished before
 * its kind's cutoff ($1 import jobs, $2 match jobs). Every statement that deletes a job's rows checks it, so
 * a job that is not final is never touched, whatever happened since it was listed.
 */
const PRUNABLE_JOB = `j.status IN ('COMPLETED', 'FAILED')
  AND j.finished_at < greatest($1::timestamptz, $2::timestamptz)
  AND j.finished_at < CASE WHEN j.kind = 'matches' THEN $2::timestamptz ELSE $1::timestamptz END`;

function jobCutoffs(cutoffs: Cutoffs): [Date, Date] {
  return [cutoffs.importJobs, cutoffs.matchJobs];
}

/** A place in the list of prunable jobs: after this job (by finish time, then id). */
export interface JobCursor {
  readonly finishedAt: Date;
  readonly id: string;
}

/** The next `limit` prunable jobs after `after`, oldest first. */
export async function nextPrunableJobs(
  pool: pg.Pool,
  cutoffs: Cutoffs,
  after: JobCursor | null,
  limit: number,
): Promise<JobCursor[]> {
  const { rows } = await query<{ id: string; finished_at: Date }>(
    pool,
    `SELECT j.id, j.finished_at FROM import_jobs j
      WHERE ${PRUNABLE_JOB}
        AND ($3::timestamptz IS NULL OR (j.finished_at, j.id) > ($3::timestamptz, $4::uuid))
      ORDER BY j.finished_at, j.id
      LIMIT $5`,
    [...jobCutoffs(cutoffs), after?.finishedAt ?? null, after?.id ?? null, limit],
  );
  return rows.map((r) => ({ id: r.id, finishedAt: r.finished_at }));
}

/**
 * Deletes up to `limit` error rows of a prunable job after line `afterLine`, in one short statement (its own
 * transaction): a job with a million failed rows goes slice by slice, never holding locks for long. Each
 * slice starts past the last line deleted, so the index scan never walks the entries of the rows deleted
 * before it (not vacuumed yet). Returns the rows deleted and the last line, null when there were none.
 */
export async function deleteJobErrorSlice(
  pool: pg.Pool,
  cutoffs: Cutoffs,
  jobId: string,
  afterLine: number,
  limit: number,
): Promise<{ deleted: number; lastLine: number | null }> {
  const { rows } = await query<{ deleted: number; last_line: string | null }>(
    pool,
    `WITH slice AS (
       SELECT line FROM import_job_errors WHERE job_id = $3 AND line > $4 ORDER BY line LIMIT $5
     ), gone AS (
       DELETE FROM import_job_errors e USING slice
        WHERE e.job_id = $3 AND e.line = slice.line
          AND EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = $3 AND ${PRUNABLE_JOB})
       RETURNING e.line
     )
     SELECT count(*)::int AS deleted, max(line) AS last_line FROM gone`,
    [...jobCutoffs(cutoffs), jobId, afterLine, limit],
  );
  const row = rows[0];
  return {
    deleted: row?.deleted ?? 0,
    lastLine: row?.last_line === null || row?.last_line === undefined ? null : Number(row.last_line),
  };
}

/** What deleting one job's remaining rows removed, per table. */
export interface JobRowsDeleted {
  readonly import_jobs: number;
  readonly import_job_errors: number;
  readonly import_job_batches: number;
  readonly import_job_db_batches: number;
  readonly job_status_events: number;
}

/**
 * Deletes a prunable job with what is left of it (status events, batch records, any error rows written
 * since its slices) in one transaction, the job row locked first; nothing when it is no longer prunable.
 */
export async function deleteJobRows(pool: pg.Pool, cutoffs: Cutoffs, jobId: string): Promise<JobRowsDeleted> {
  return withTransaction(pool, async (client) => {
    const locked = await query(
      client,
      `SELECT 1 FROM import_jobs j WHERE j.id = $3 AND ${PRUNABLE_JOB} FOR UPDATE`,
      [...jobCutoffs(cutoffs), jobId],
    );
    const none = {
      import_jobs: 0,
      import_job_errors: 0,
      import_job_batches: 0,
      import_job_db_batches: 0,
      job_status_events: 0,
    };
    if (locked.rowCount === 0) return none;
    const count = async (table: string): Promise<number> =>
      (await query(client, `DELETE FROM ${table} WHERE job_id = $1`, [jobId])).rowCount ?? 0;
    return {
      import_job_errors: await count('import_job_errors'),
      job_status_events: await count('job_status_events'),
      import_job_batches: await count('import_job_batches'),
      import_job_db_batches: await count('import_job_db_batches'),
      import_jobs: (await query(client, 'DELETE FROM import_jobs WHERE id = $1', [jobId])).rowCount ?? 0,
    };
  });
}

/** Tables whose old rows go in slices of their own, each slice one statement. */
export type SlicedTable = 'export_jobs' | 'user_removals' | 'api_idempotency_keys';

/**
 * The rows of each sliced table that may go, as `SELECT <key> FROM …` over its one parameter `at`: export
 * runs that ended before the export cutoff; removal tombstones older than it that the group's export has
 * already sent (older than its watermark; a group never exported needs none); API idempotency keys past
 * their lifetime (before now) and no longer held by a request.
 */
const SLICED: Record<
  SlicedTable,
  { readonly key: string; readonly at: (c: Cutoffs) => Date; readonly select: (at: string) => string }
> = {
  export_jobs: {
    key: 'id',
    at: (c) => c.exportRuns,
    select: (at) => `SELECT e.id FROM export_jobs e
              WHERE e.status IN ('COMPLETED', 'FAILED') AND e.finished_at < ${at}
              ORDER BY e.finished_at, e.id`,
  },
  user_removals: {
    key: 'id',
    at: (c) => c.exportRuns,
    select: (at) => `SELECT r.id FROM user_removals r
               LEFT JOIN matching_groups g ON g.domain_id = r.domain_id AND g.group_id = r.group_id
              WHERE r.removed_at < ${at} AND (g.last_exported_at IS NULL OR r.removed_at < g.last_exported_at)
              ORDER BY r.removed_at`,
  },
  api_idempotency_keys: {
    key: '(domain_id, key)',
    at: (c) => c.now,
    select: (at) => `SELECT k.domain_id, k.key FROM api_idempotency_keys k
              WHERE k.expires_at < ${at} AND k.locked_until < ${at} ORDER BY k.expires_at`,
  },
};

/** Deletes up to `limit` old rows of `table` in one statement; returns how many went. */
export async function deleteSlice(
  pool: pg.Pool,
  table: SlicedTable,
  cutoffs: Cutoffs,
  limit: number,
): Promise<number> {
  const { key, at, select } = SLICED[table];
  const result = await query(
    pool,
    `DELETE FROM ${table} WHERE ${key} IN (${select('$1::timestamptz')} LIMIT $2)`,
    [at(cutoffs), limit],
  );
  return result.rowCount ?? 0;
}

/** Every table prune deletes from. */
export const PRUNED_TABLES = [
  'import_jobs',
  'import_job_errors',
  'import_job_batches',
  'import_job_db_batches',
  'job_status_events',
  'export_jobs',
  'user_removals',
  'api_idempotency_keys',
] as const;

/** Rows per table. */
export type TableCounts = Record<(typeof PRUNED_TABLES)[number], number>;

/** What a prune would delete, counted without deleting (the dry run): one read-only statement. */
export async function countPrunable(pool: pg.Pool, cutoffs: Cutoffs): Promise<TableCounts> {
  const ofJobs = (table: string) =>
    `(SELECT count(*) FROM ${table} x JOIN import_jobs j ON j.id = x.job_id WHERE ${PRUNABLE_JOB})`;
  const sliced = (table: SlicedTable, param: string) =>
    `(SELECT count(*) FROM (${SLICED[table].select(`${param}::timestamptz`)}) s)`;
  const { rows } = await query<Record<string, string>>(
    pool,
    `SELECT (SELECT count(*) FROM import_jobs j WHERE ${PRUNABLE_JOB}) AS import_jobs,
            ${ofJobs('import_job_errors')} AS import_job_errors,
            ${ofJobs('import_job_batches')} AS import_job_batches,
            ${ofJobs('import_job_db_batches')} AS import_job_db_batches,
            ${ofJobs('job_status_events')} AS job_status_events,
            ${sliced('export_jobs', '$3')} AS export_jobs,
            ${sliced('user_removals', '$3')} AS user_removals,
            ${sliced('api_idempotency_keys', '$4')} AS api_idempotency_keys`,
    [...jobCutoffs(cutoffs), cutoffs.exportRuns, cutoffs.now],
  );
  const row = rows[0] ?? {};
  return Object.fromEntries(PRUNED_TABLES.map((t) => [t, Number(row[t] ?? 0)])) as TableCounts;
}
