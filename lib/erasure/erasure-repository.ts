import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import { query } from '../db/query.ts';

/** Where an erasure applies: one domain, and one group of it or every group. */
export interface ErasureScope {
  readonly jobId: string;
  readonly domainId: string;
  readonly groupId: string;
  readonly everyGroup: boolean;
}

/** Rows removed (or, for `job_status_events`, rewritten) per table. */
export type TableCounts = Readonly<Record<string, number>>;

/** The erasure record: what remains of an erasure, without a single reference id. */
export interface ErasureRecord {
  readonly jobId: string;
  readonly domainId: string;
  readonly groupId: string | null;
  readonly requestedBy: string;
  readonly requestedCount: number;
  readonly counts: TableCounts;
  readonly objects: TableCounts;
  readonly status: 'PROCESSING' | 'COMPLETED' | 'FAILED';
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

/** Creates the erasure record of a job unless it exists (a retried plan step). */
export async function createErasureRecord(
  pool: pg.Pool,
  scope: ErasureScope,
  requestedBy: string,
  requestedCount: number,
): Promise<void> {
  await query(
    pool,
    `INSERT INTO erasures (job_id, domain_id, group_id, requested_by, requested_count)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (job_id) DO UPDATE SET requested_count = EXCLUDED.requested_count`,
    [scope.jobId, scope.domainId, scope.everyGroup ? null : scope.groupId, requestedBy, requestedCount],
  );
}

/** Ends the erasure record: COMPLETED with the objects it rewrote or deleted, or FAILED. */
export async function finishErasureRecord(
  pool: pg.Pool,
  jobId: string,
  status: 'COMPLETED' | 'FAILED',
  objects: TableCounts = {},
): Promise<void> {
  await query(
    pool,
    `UPDATE erasures SET status = $2, objects = $3::jsonb, finished_at = now()
     WHERE job_id = $1 AND status = 'PROCESSING'`,
    [jobId, status, JSON.stringify(objects)],
  );
}

/** The erasure record of a job in a domain. */
export async function getErasureRecord(
  pool: pg.Pool,
  jobId: string,
  domainId: string,
): Promise<ErasureRecord | undefined> {
  const result = await query<{
    job_id: string;
    domain_id: string;
    group_id: string | null;
    requested_by: string;
    requested_count: string;
    counts: Record<string, number>;
    objects: Record<string, number>;
    status: ErasureRecord['status'];
    created_at: Date;
    finished_at: Date | null;
  }>(
    pool,
    `SELECT job_id, domain_id, group_id, requested_by, requested_count, counts, objects, status, created_at,
            finished_at
     FROM erasures WHERE job_id = $1 AND domain_id = $2`,
    [jobId, domainId],
  );
  const r = result.rows[0];
  if (!r) return undefined;
  return {
    jobId: r.job_id,
    domainId: r.domain_id,
    groupId: r.group_id,
    requestedBy: r.requested_by,
    requestedCount: Number(r.requested_count),
    counts: r.counts,
    objects: r.objects,
    status: r.status,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

/** Tables whose rows are keyed by group, with the index that leads `(domain_id, group_id, …)`. */
const GROUPED_TABLES = ['nodes', 'match_suggestions', 'users', 'matching_groups'] as const;

/**
 * The groups an erasure covers: its one group, or every group any table of the domain holds. The distinct
 * groups are read by skipping through each table's `(domain_id, group_id, …)` index, one probe per group,
 * rather than by reading the domain's rows.
 */
export async function erasureGroups(pool: pg.Pool, scope: ErasureScope): Promise<string[]> {
  if (!scope.everyGroup) return [scope.groupId];
  const skipScan = (table: string) => `(WITH RECURSIVE g AS (
      (SELECT group_id FROM ${table} WHERE domain_id = $1 ORDER BY group_id LIMIT 1)
      UNION ALL
      SELECT (SELECT t.group_id FROM ${table} t WHERE t.domain_id = $1 AND t.group_id > g.group_id
              ORDER BY t.group_id LIMIT 1)
      FROM g WHERE g.group_id IS NOT NULL)
    SELECT group_id FROM g WHERE group_id IS NOT NULL)`;
  const result = await query<{ group_id: string }>(pool, GROUPED_TABLES.map(skipScan).join(' UNION '), [
    scope.domainId,
  ]);
  return result.rows.map((row) => row.group_id);
}

/**
 * Erases one chunk of ids in one transaction: nodes and their metadata, match suggestions where an id is
 * either participant, users, failed rows of the domain's (group's) jobs, and the ids in recorded status
 * messages; the ids are kept for the object pass of finalize, and the counts added to the erasure record.
 * Every statement is scoped by the domain (and the groups). Idempotent: a retried chunk finds nothing left.
 */
export async function eraseChunk(
  pool: pg.Pool,
  scope: ErasureScope,
  groups: readonly string[],
  ids: readonly string[],
): Promise<TableCounts> {
  return withTransaction(pool, async (client) => {
    const params = [scope.domainId, groups, ids];
    const run = async (sql: string, values: unknown[] = params) =>
      (await query(client, sql, values)).rowCount ?? 0;
    // Error rows and status events are found through their job: a job's group may hold nothing else.
    const byJob = scope.everyGroup
      ? { filter: '', ids: '$2', values: [scope.domainId, ids] }
      : {
          filter: `AND job_id IN (SELECT id FROM import_jobs WHERE domain_id = $1 AND group_id = ANY($2::text[]))`,
          ids: '$3',
          values: params,
        };
    const withoutErased = (list: string) =>
      `coalesce((SELECT jsonb_agg(x) FROM jsonb_array_elements(payload->'${list}') x
                 WHERE NOT (x #>> '{}' = ANY(${byJob.ids}::text[]))), '[]'::jsonb)`;
    const counts: Record<string, number> = {
      node_metadata: await run(
        `DELETE FROM node_metadata m USING nodes n
         WHERE m.node_id = n.id AND n.domain_id = $1 AND n.group_id = ANY($2::text[])
           AND n.reference_id = ANY($3::text[])`,
      ),
      nodes: await run(
        `DELETE FROM nodes WHERE domain_id = $1 AND group_id = ANY($2::text[]) AND reference_id = ANY($3::text[])`,
      ),
      match_suggestions:
        (await run(
          `DELETE FROM match_suggestions
           WHERE domain_id = $1 AND group_id = ANY($2::text[]) AND participant_id = ANY($3::text[])`,
        )) +
        (await run(
          `DELETE FROM match_suggestions
           WHERE domain_id = $1 AND group_id = ANY($2::text[]) AND matched_participant_id = ANY($3::text[])`,
        )),
      users: await run(
        `DELETE FROM users WHERE domain_id = $1 AND group_id = ANY($2::text[]) AND username = ANY($3::text[])`,
      ),
      // After the users: deleting a ready user leaves a tombstone (migration 0010) that names it.
      user_removals: scope.everyGroup
        ? await run(`DELETE FROM user_removals WHERE domain_id = $1 AND username = ANY($2::text[])`, [
            scope.domainId,
            ids,
          ])
        : await run(
            `DELETE FROM user_removals WHERE domain_id = $1 AND group_id = ANY($2::text[]) AND username = ANY($3::text[])`,
          ),
      import_job_errors: await run(
        `DELETE FROM import_job_errors
         WHERE domain_id = $1 AND reference = ANY(${byJob.ids}::text[]) ${byJob.filter}`,
        byJob.values,
      ),
      job_status_events: await run(
        `UPDATE job_status_events
         SET payload = jsonb_set(jsonb_set(payload, '{successList}', ${withoutErased('successList')}),
                                 '{failedList}', ${withoutErased('failedList')})
         WHERE domain_id = $1 ${byJob.filter}
           AND (payload->'successList' ?| ${byJob.ids}::text[] OR payload->'failedList' ?| ${byJob.ids}::text[])`,
        byJob.values,
      ),
    };
    await query(
      client,
      `INSERT INTO erasure_references (job_id, reference)
       SELECT $1, r FROM unnest($2::text[]) r ON CONFLICT DO NOTHING`,
      [scope.jobId, ids],
    );
    // Last, so the record's row lock is held only while this transaction commits.
    await query(
      client,
      `UPDATE erasures SET counts = (
         SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
         FROM (SELECT key, sum(value::bigint) AS total
               FROM (SELECT * FROM jsonb_each_text(counts) UNION ALL SELECT * FROM jsonb_each_text($2::jsonb)) c
               GROUP BY key) s)
       WHERE job_id = $1`,
      [scope.jobId, JSON.stringify(counts)],
    );
    return counts;
  });
}

/** Which of `candidates` the erasure erases (the chunk's ids recorded by {@link eraseChunk}). */
export async function erasedAmong(
  pool: pg.Pool,
  jobId: string,
  candidates: readonly string[],
): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const result = await query<{ reference: string }>(
    pool,
    `SELECT reference FROM erasure_references WHERE job_id = $1 AND reference = ANY($2::text[])`,
    [jobId, candidates],
  );
  return new Set(result.rows.map((row) => row.reference));
}

/** Forgets the ids of an erasure, `batchRows` at a time (bounded transactions); returns how many. */
export async function dropErasureReferences(
  pool: pg.Pool,
  jobId: string,
  batchRows: number,
): Promise<number> {
  let dropped = 0;
  for (;;) {
    const removed = await query(
      pool,
      `DELETE FROM erasure_references WHERE job_id = $1 AND reference IN (
         SELECT reference FROM erasure_references WHERE job_id = $1 LIMIT $2)`,
      [jobId, batchRows],
    );
    dropped += removed.rowCount ?? 0;
    if ((removed.rowCount ?? 0) < batchRows) return dropped;
  }
}

/** An object a finished job of the scope wrote: a report, a job's staged prefix, or an export file. */
export interface WrittenObjects {
  readonly jobId: string;
  readonly reports: readonly string[];
}

/**
 * The finished node-import jobs of the scope, a page at a time after `afterId` (keyset), with the reports
 * they wrote: their staged copies live under their own id.
 */
export async function finishedJobsPage(
  pool: pg.Pool,
  scope: ErasureScope,
  afterId: string,
  pageRows: number,
): Promise<WrittenObjects[]> {
  const result = await query<{ id: string; success_list_uri: string | null; failed_list_uri: string | null }>(
    pool,
    `SELECT id, success_list_uri, failed_list_uri FROM import_jobs
     WHERE domain_id = $1 AND ($2::boolean OR group_id = $3) AND kind = 'nodes'
       AND status IN ('COMPLETED', 'FAILED') AND id > $4::uuid
     ORDER BY id LIMIT $5`,
    [scope.domainId, scope.everyGroup, scope.groupId, afterId, pageRows],
  );
  return result.rows.map((row) => ({
    jobId: row.id,
    reports: [row.success_list_uri, row.failed_list_uri].filter((uri): uri is string => uri !== null),
  }));
}

/** Export files of the scope's finished exports, a page at a time after `afterId` (keyset). */
export async function exportFilesPage(
  pool: pg.Pool,
  scope: ErasureScope,
  afterId: string,
  pageRows: number,
): Promise<{ id: string; uri: string }[]> {
  const result = await query<{ id: string; file_uri: string }>(
    pool,
    `SELECT id, file_uri FROM export_jobs
     WHERE domain_id = $1 AND ($2::boolean OR group_id = $3 OR group_id IS NULL) AND file_uri IS NOT NULL
       AND status IN ('COMPLETED', 'FAILED') AND id > $4::uuid
     ORDER BY id LIMIT $5`,
    [scope.domainId, scope.everyGroup, scope.groupId, afterId, pageRows],
  );
  return result.rows.map((row) => ({ id: row.id, uri: row.file_uri }));
}

/** Forgets the file of an export whose object was deleted, so no download link points at nothing. */
export async function forgetExportFile(pool: pg.Pool, exportId: string): Promise<void> {
  await query(pool, `UPDATE export_jobs SET file_uri = NULL, updated_at = now() WHERE id = $1`, [exportId]);
}

/**
 * Records an accepted erasure's job (PENDING) before its execution starts, so that it can be read at once;
 * its plan step claims it.
 */
export async function createPendingErasureJob(
  pool: pg.Pool,
  input: ErasureScope & { readonly source: string; readonly origin: string },
): Promise<Date> {
  const result = await query<{ created_at: Date }>(
    pool,
    `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin)
     VALUES ($1, 'erasure', $2, $3, 'PENDING', $4, $5)
     RETURNING created_at`,
    [input.jobId, input.domainId, input.groupId, input.source, input.origin],
  );
  const createdAt = result.rows[0]?.created_at;
  if (!createdAt) throw new Error(`job ${input.jobId} was not recorded`);
  return createdAt;
}
