import type pg from 'pg';
import { escapeCellSql } from '../csv/spreadsheet-escape.ts';
import { copyOut } from '../db/copy-out.ts';
import { readWithCursor } from '../db/cursor.ts';
import { mapDatabaseError } from '../db/errors.ts';
import { checkoutClient, releaseClient, withTransaction } from '../db/pool.ts';
import { query } from '../db/query.ts';

/** A group with export enabled, as stored. */
export interface ExportableGroupRow {
  readonly domainId: string;
  readonly groupId: string;
  readonly costBased: boolean;
  readonly exportTopic: string | null;
  readonly lastExportedAt: Date | null;
}

/**
 * The active groups of active domains with export enabled, optionally only one group id (and domain), and
 * without those run `notInRun` has already recorded, in a stable order. This is the run's only query across
 * domains: it is what decides the domains.
 */
export async function listExportableGroups(
  pool: pg.Pool,
  filter: { readonly groupId?: string; readonly domainId?: string; readonly notInRun?: string } = {},
): Promise<ExportableGroupRow[]> {
  const { rows } = await query<{
    domain_id: string;
    group_id: string;
    cost_based: boolean;
    export_topic: string | null;
    last_exported_at: Date | null;
  }>(
    pool,
    `SELECT g.domain_id, g.group_id, g.cost_based, g.export_topic, g.last_exported_at
       FROM matching_groups g JOIN domains d ON d.id = g.domain_id
      WHERE g.active AND g.export_enabled AND d.active
        AND ($1::text IS NULL OR g.group_id = $1) AND ($2::uuid IS NULL OR g.domain_id = $2)
        AND ($3::uuid IS NULL OR NOT EXISTS (
              SELECT 1 FROM export_jobs e
               WHERE e.run_id = $3 AND e.domain_id = g.domain_id AND e.group_id = g.group_id))
      ORDER BY g.domain_id, g.group_id`,
    [filter.groupId ?? null, filter.domainId ?? null, filter.notInRun ?? null],
  );
  return rows.map((r) => ({
    domainId: r.domain_id,
    groupId: r.group_id,
    costBased: r.cost_based,
    exportTopic: r.export_topic,
    lastExportedAt: r.last_exported_at,
  }));
}

/** What identifies a group's export in a run, and how it runs. */
export interface ExportRunKey {
  readonly runId: string;
  readonly domainId: string;
  readonly groupId: string;
  readonly costBased: boolean;
  readonly full: boolean;
  readonly since: string | null;
  readonly trigger: string;
}

const UPSERT_RUN = `
  INSERT INTO export_jobs AS e (run_id, domain_id, group_id, resource_type, format, cost_based, triggered_by,
                                full_export, changed_since, status, started_at, error, finished_at, duration_ms)
  VALUES ($1, $2, $3, 'users', $4, $5, $6, $7, $8, $9::varchar, now(), $10,
          CASE WHEN $9::varchar = 'FAILED' THEN now() END, CASE WHEN $9::varchar = 'FAILED' THEN 0 END)
  ON CONFLICT (run_id, domain_id, group_id) WHERE run_id IS NOT NULL DO UPDATE
    SET status = excluded.status, error = excluded.error, updated_at = now(),
        started_at = CASE WHEN excluded.status = 'PROCESSING' THEN now() ELSE e.started_at END,
        finished_at = CASE WHEN excluded.status = 'FAILED' THEN now() END,
        duration_ms = CASE WHEN excluded.status = 'FAILED'
                           THEN (extract(epoch FROM now() - e.started_at) * 1000)::bigint END
  RETURNING id, created_at`;

function runValues(key: ExportRunKey, status: string, error: string | null): unknown[] {
  return [
    key.runId,
    key.domainId,
    key.groupId,
    key.costBased ? 'csv' : 'usernames',
    key.costBased,
    key.trigger,
    key.full,
    key.since,
    status,
    error,
  ];
}

/**
 * Records a group's export as PROCESSING (a retried attempt of the same run takes the same row); its id and
 * when the run first started it (the same for every attempt: the as-of of the requests it sends).
 */
export async function startExportRun(
  pool: pg.Pool,
  key: ExportRunKey,
): Promise<{ readonly id: string; readonly createdAt: Date }> {
  const { rows } = await query<{ id: string; created_at: Date }>(
    pool,
    UPSERT_RUN,
    runValues(key, 'PROCESSING', null),
  );
  return { id: rows[0]!.id, createdAt: rows[0]!.created_at };
}

/**
 * Marks a group's export COMPLETED with its figures and moves the group's watermark to the instant its
 * users were read, in one transaction: the next incremental export starts from there.
 */
export async function completeExportRun(
  pool: pg.Pool,
  key: ExportRunKey,
  id: string,
  outcome: {
    readonly exported: number;
    readonly fileUri: string | null;
    readonly messages: number;
    readonly readAt: Date;
    readonly durationMs: number;
  },
): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(
      `UPDATE export_jobs SET status = 'COMPLETED', exported = $2, file_uri = $3, messages_sent = $4,
              duration_ms = $5, error = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1`,
      [id, outcome.exported, outcome.fileUri, outcome.messages, outcome.durationMs],
    );
    await client.query(
      `UPDATE matching_groups
          SET last_exported_at = GREATEST(coalesce(last_exported_at, $3), $3), updated_at = now()
        WHERE domain_id = $1 AND group_id = $2`,
      [key.domainId, key.groupId, outcome.readAt],
    );
  });
}

/** A group's export run as its record holds it: the status and, once COMPLETED, what it wrote and sent. */
export interface RecordedExportRun {
  readonly status: 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  readonly exported: number;
  readonly fileUri: string | null;
  readonly messages: number;
}

/** The run record `id` of a group of `domainId`, or undefined when there is none. */
export async function getExportRun(
  pool: pg.Pool,
  domainId: string,
  id: string,
): Promise<RecordedExportRun | undefined> {
  const { rows } = await query<{
    status: RecordedExportRun['status'];
    exported: string;
    file_uri: string | null;
    messages_sent: number;
  }>(
    pool,
    'SELECT status, exported, file_uri, messages_sent FROM export_jobs WHERE id = $1 AND domain_id = $2',
    [id, domainId],
  );
  const row = rows[0];
  return row
    ? {
        status: row.status,
        exported: Number(row.exported),
        fileUri: row.file_uri,
        messages: row.messages_sent,
      }
    : undefined;
}

/** Marks a group's export FAILED with the error (creating its row if the export failed before it started). */
export async function failExportRun(pool: pg.Pool, key: ExportRunKey, error: string): Promise<void> {
  await query(pool, UPSERT_RUN, runValues(key, 'FAILED', error));
}

/** Which users a cursor reads. */
export interface UserQuery {
  readonly domainId: string;
  readonly groupId: string;
  /** Only users updated after this instant; null: all. */
  readonly since: string | null;
  /** Output columns: SQL expressions rendering text. */
  readonly columns: ReadonlyArray<{ readonly sql: string }>;
  /** Rows per FETCH. */
  readonly batchRows: number;
}

/** Set once the cursor's snapshot is taken: the instant the users were read at. */
export interface CursorSnapshot {
  readAt?: Date;
}

/** A key range of a group's users: usernames after `after` (exclusive) up to `through` (inclusive). */
export interface UserKeyRange {
  /** null: from the first username. */
  readonly after: string | null;
  /** null: to the last username. */
  readonly through: string | null;
}

/** What {@link copyGroupUsersCsv} read: its snapshot's instant, then (once the COPY ended) the rows sent. */
export interface CopySnapshot extends CursorSnapshot {
  rows?: number;
}

/**
 * The users' WHERE clause, each value through `value`: a `$n` parameter, or a literal (COPY takes no
 * parameters).
 */
function usersWhere(
  users: Pick<UserQuery, 'domainId' | 'groupId' | 'since'>,
  range: UserKeyRange,
  value: (v: string) => string,
): string {
  return [
    `domain_id = ${value(users.domainId)}::uuid`,
    `group_id = ${value(users.groupId)}`,
    'ready_for_matching',
    ...(users.since === null ? [] : [`updated_at > ${value(users.since)}::timestamptz`]),
    ...(range.after === null ? [] : [`username > ${value(range.after)}`]),
    ...(range.through === null ? [] : [`username <= ${value(range.through)}`]),
  ].join(' AND ');
}

/** How a group's users split into key ranges: the snapshot's instant, the users, the ranges in key order. */
export interface UserRangePlan {
  readonly readAt: Date;
  readonly users: number;
  readonly ranges: readonly UserKeyRange[];
}

/**
 * Cuts a group's `ready_for_matching` users into key ranges of at most `rowsPerRange` users each (ordered by
 * username; the last range is open-ended, so a user added meanwhile still falls in one), counted and cut in
 * one read-only snapshot. One range when they all fit; never more than `maxRanges` (the ranges grow instead).
 */
export async function planUserRanges(
  pool: pg.Pool,
  users: Pick<UserQuery, 'domainId' | 'groupId' | 'since'>,
  limits: { readonly rowsPerRange: number; readonly maxRanges: number },
): Promise<UserRangePlan> {
  return withTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const values: unknown[] = [];
    const where = usersWhere(users, { after: null, through: null }, (v) => {
      values.push(v);
      return `$${values.length}`;
    });
    const { rows } = await client.query<{ now: Date; users: number }>(
      `SELECT now(), count(*)::int AS users FROM users WHERE ${where}`,
      values,
    );
    const { now: readAt, users: count } = rows[0]!;
    const rowsPerRange = Math.max(limits.rowsPerRange, Math.ceil(count / limits.maxRanges));
    if (count <= rowsPerRange) return { readAt, users: count, ranges: [{ after: null, through: null }] };
    // The last username of each full range but the last: the ranges' upper bounds.
    const bounds = await client.query<{ username: string }>(
      `SELECT username FROM (SELECT username, row_number() OVER (ORDER BY username) AS n FROM users WHERE ${where}) s
        WHERE n % $${values.length + 1} = 0 AND n < $${values.length + 2} ORDER BY n`,
      [...values, rowsPerRange, count],
    );
    const uppers = bounds.rows.map((r) => r.username);
    const ranges = [...uppers, null].map((through, i) => ({
      after: i === 0 ? null : uppers[i - 1]!,
      through,
    }));
    return { readAt, users: count, ranges };
  });
}

/**
 * Streams a group's `ready_for_matching` users (of `range`, ordered by username) as a CSV file (with a header
 * row when `range.header`), formatted by PostgreSQL: `COPY (SELECT …) TO STDOUT (FORMAT csv)`, each cell spreadsheet-escaped in
 * SQL ({@link escapeCellSql}), so Node only forwards bytes. One read-only REPEATABLE READ transaction on a
 * dedicated connection whose socket pauses while the consumer is slow: memory stays flat. Nothing is yielded
 * when the range has no such user (checked in the same snapshot). `snapshot.readAt` is set before the first
 * chunk, `snapshot.rows` when the COPY ended. A consumer that stops early destroys the connection, which
 * ends the COPY and the transaction server-side.
 */
export async function* copyGroupUsersCsv(
  pool: pg.Pool,
  users: Pick<UserQuery, 'domainId' | 'groupId' | 'since'> & {
    readonly columns: ReadonlyArray<{ readonly name: string; readonly sql: string; readonly plain?: true }>;
  },
  range: UserKeyRange & { readonly header: boolean },
  snapshot: CopySnapshot,
): AsyncGenerator<Buffer> {
  const client = await checkoutClient(pool);
  let done = false;
  let broken: Error | undefined;
  try {
    // No parallel workers: the escape expressions make the planner split the index scan over workers whose
    // rows the leader merges back into order, for a COPY the leader formats alone; they only added CPU.
    await client.query(
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0',
    );
    const where = usersWhere(users, range, (v) => client.escapeLiteral(v));
    const { rows } = await client.query<{ now: Date; any: boolean }>(
      `SELECT now(), EXISTS (SELECT 1 FROM users WHERE ${where}) AS any`,
    );
    snapshot.readAt = rows[0]!.now;
    snapshot.rows = 0;
    if (rows[0]!.any) {
      const cells = users.columns
        .map((c) => `${c.plain ? c.sql : escapeCellSql(c.sql)} AS ${c.name}`)
        .join(', ');
      // The table's username, not the output column of that name (the escaped cell): its index gives the
      // order, where the alias made PostgreSQL sort every row, spilling to disk (1M users: 375 MB).
      snapshot.rows = yield* copyOut(
        client,
        `COPY (SELECT ${cells} FROM users WHERE ${where} ORDER BY users.username) TO STDOUT WITH (FORMAT csv, HEADER ${range.header})`,
      );
    }
    await client.query('COMMIT');
    done = true;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw mapDatabaseError(error);
  } finally {
    // A failed or abandoned read closes its connection (mid-COPY it cannot be reused): the server ends the
    // COPY and the transaction.
    releaseClient(client, done ? undefined : (broken ?? true));
  }
}

/**
 * Streams a group's `ready_for_matching` users, `batchRows` at a time, through a server-side cursor in one
 * read-only REPEATABLE READ transaction (one consistent snapshot, flat memory), ordered by username. Cells
 * are text or null. `snapshot.readAt` is set to the transaction's start before the first batch. The client
 * is released when the generator ends, fails or is abandoned.
 */
export async function* readGroupUsers(
  pool: pg.Pool,
  query: UserQuery,
  snapshot: CursorSnapshot,
): AsyncGenerator<Array<Array<string | null>>> {
  const pages = readWithCursor(pool, {
    begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    onOpen: async (client) => {
      const { rows } = await client.query<{ now: Date }>('SELECT now()');
      snapshot.readAt = rows[0]!.now;
    },
    sql: `SELECT ${query.columns.map((c) => c.sql).join(', ')} FROM users
          WHERE domain_id = $1 AND group_id = $2 AND ready_for_matching
            AND ($3::timestamptz IS NULL OR updated_at > $3)
          ORDER BY username`,
    params: [query.domainId, query.groupId, query.since],
    pageRows: query.batchRows,
  });
  for await (const rows of pages) yield rows as Array<Array<string | null>>;
}

/**
 * Streams the usernames of a group's members that left the export since `since` (all kept tombstones when
 * null): deleted while ready, no longer `ready_for_matching`, or moved away — less those ready again now,
 * whom the users' read sends. Distinct and ordered by username, `batchRows` at a time through a cursor.
 */
export async function* readGroupRemovals(
  pool: pg.Pool,
  group: { readonly domainId: string; readonly groupId: string; readonly since: string | null },
  batchRows: number,
): AsyncGenerator<string[]> {
  const pages = readWithCursor(pool, {
    begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    sql: `SELECT DISTINCT r.username FROM user_removals r
           WHERE r.domain_id = $1 AND r.group_id = $2 AND ($3::timestamptz IS NULL OR r.removed_at > $3)
             AND NOT EXISTS (SELECT 1 FROM users u
                              WHERE u.domain_id = r.domain_id AND u.group_id = r.group_id
                                AND u.username = r.username AND u.ready_for_matching)
           ORDER BY r.username`,
    params: [group.domainId, group.groupId, group.since],
    pageRows: batchRows,
  });
  for await (const rows of pages) yield rows.map((row) => String(row[0]));
}
