import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withTransaction } from '../db/pool.ts';
import { query } from '../db/query.ts';
import { USER_FIELD_NAMES, type UserRow } from './user-row.ts';

/** A validated row, or a row that failed validation with all its errors, by its line in the file. */
export type UserImportRow =
  | { readonly line: number; readonly row: UserRow }
  | { readonly line: number; readonly reference: string | null; readonly errors: readonly string[] };

/** What a users load did: every row read (`total`) is inserted, updated, failed or a duplicate. */
export interface UserLoadCounts {
  total: number;
  failed: number;
  inserted: number;
  updated: number;
  /** Rows of a username that a later line of the same DB batch wrote: the last line wins, counted once. */
  duplicates: number;
}

const STAGE_COLUMNS = ['line', ...USER_FIELD_NAMES];
const UPDATED = USER_FIELD_NAMES.filter((name) => name !== 'username' && name !== 'group_id');

/**
 * `$1` domain, `$2` job. Unknown groups are rejected set-based; the rest upserted, the last line winning.
 * Rejections and duplicates are counted from the staged rows, not from what the statement inserted: a job run
 * again finds its error rows already recorded and must count them all the same.
 */
const UPSERT_SQL = `WITH known AS MATERIALIZED (
  SELECT s.* FROM mb_users_stage s
  WHERE EXISTS (SELECT 1 FROM matching_groups g WHERE g.domain_id = $1 AND g.group_id = s.group_id)
), bad AS (
  INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason, errors)
  SELECT $2, $1, s.line, s.username, 'UNKNOWN_GROUP', format('group_id %s is not a matching group of the domain', s.group_id),
         ARRAY[format('group_id %s is not a matching group of the domain', s.group_id)]
  FROM mb_users_stage s
  WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.line = s.line)
  ON CONFLICT (job_id, line) DO NOTHING
), src AS MATERIALIZED (
  SELECT DISTINCT ON (k.group_id, k.username) k.*
  FROM known k
  ORDER BY k.group_id, k.username, k.line DESC
), up AS (
  INSERT INTO users AS u (domain_id, ${USER_FIELD_NAMES.join(', ')})
  SELECT $1, ${USER_FIELD_NAMES.map((name) =>
    name === 'preferred_genders'
      ? `coalesce(ARRAY(SELECT jsonb_array_elements_text(src.preferred_genders::jsonb)), '{}')`
      : `src.${name}`,
  ).join(', ')}
  FROM src ORDER BY src.group_id, src.username
  ON CONFLICT (domain_id, group_id, username) DO UPDATE SET
    ${UPDATED.map((name) => `${name} = excluded.${name}`).join(', ')}, updated_at = now()
  RETURNING u.xmax = 0 AS inserted
)
SELECT (SELECT count(*) FROM mb_users_stage) - (SELECT count(*) FROM known) AS bad,
       (SELECT count(*) FROM known) - (SELECT count(*) FROM src) AS duplicates,
       count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM up`;

const STAGE_SQL = `CREATE TEMP TABLE mb_users_stage (
  line bigint, username text, group_id text, display_name text, gender text, date_of_birth date, location text,
  intent text, bio text, smokes boolean, drinks boolean, wants_kids boolean, education text, religion text,
  occupation text, preferred_genders text, preferred_min_age smallint, preferred_max_age smallint,
  relationship_type text, open_to_long_distance boolean, ready_for_matching boolean
) ON COMMIT DROP`;

function stageRecord(line: number, row: UserRow): unknown[] {
  return [
    line,
    ...USER_FIELD_NAMES.map((name) => {
      const value = row[name];
      if (name === 'preferred_genders') return JSON.stringify(value);
      if (name === 'ready_for_matching' && value === null) return false;
      return value;
    }),
  ];
}

/**
 * Advances the job's progress by one committed batch, in its transaction: `$2` rows, `$3` written, `$4`
 * failed. Last in the transaction, so the job row stays locked only until the commit.
 */
const ADVANCE_SQL = `UPDATE import_jobs SET rows_done = rows_done + $2, rows_written = rows_written + $3,
  rows_failed = rows_failed + $4, progress_seq = progress_seq + 1, progress_at = clock_timestamp()
WHERE id = $1`;

/** A users load starts its job's progress over: a job run again loads every row again. */
const RESET_SQL = `UPDATE import_jobs SET rows_done = 0, rows_written = 0, rows_failed = 0,
  progress_seq = progress_seq + 1, progress_at = clock_timestamp()
WHERE id = $1`;

async function writeBatch(
  pool: pg.Pool,
  job: { readonly jobId: string; readonly domainId: string },
  valid: readonly { line: number; row: UserRow }[],
  invalid: readonly { line: number; reference: string | null; errors: readonly string[] }[],
  counts: UserLoadCounts,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (invalid.length > 0) {
      await client.query(
        `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason, errors)
         SELECT $1, $2, r.line, r.reference, 'INVALID_ROW', array_to_string(e.errors, '; '), e.errors
         FROM unnest($3::bigint[], $4::text[], $5::text[]) AS r (line, reference, errors_json)
         CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(r.errors_json::jsonb)) AS errors) e
         ON CONFLICT (job_id, line) DO NOTHING`,
        [
          job.jobId,
          job.domainId,
          invalid.map((r) => r.line),
          invalid.map((r) => r.reference),
          invalid.map((r) => JSON.stringify(r.errors)),
        ],
      );
    }
    const advance = (written: number, failed: number) =>
      client.query(ADVANCE_SQL, [job.jobId, valid.length + invalid.length, written, failed]);
    if (valid.length === 0) {
      await advance(0, invalid.length);
      return;
    }
    await client.query(STAGE_SQL);
    await pipeline(
      Readable.from([
        stringify(
          valid.map((v) => stageRecord(v.line, v.row)),
          { cast: { boolean: (b) => String(b) } },
        ),
      ]),
      client.query(
        copyFrom(`COPY mb_users_stage (${STAGE_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`),
      ),
    );
    const result = await client.query<{ bad: string; duplicates: string; inserted: string; updated: string }>(
      UPSERT_SQL,
      [job.domainId, job.jobId],
    );
    const r = result.rows[0];
    counts.failed += Number(r?.bad ?? 0);
    counts.duplicates += Number(r?.duplicates ?? 0);
    counts.inserted += Number(r?.inserted ?? 0);
    counts.updated += Number(r?.updated ?? 0);
    await advance(Number(r?.inserted ?? 0) + Number(r?.updated ?? 0), invalid.length + Number(r?.bad ?? 0));
  });
}

/**
 * Loads user rows in transactions of about `batchRows` rows: rows that failed validation are recorded with
 * all their errors, the valid ones are COPYed into a temp table, checked set-based against the domain's
 * matching groups and upserted (the later line wins). Nothing but the open batch is held in memory. Each
 * committed batch advances the job's progress in its own transaction.
 */
export async function loadUsers(
  pool: pg.Pool,
  job: { readonly jobId: string; readonly domainId: string },
  rows: AsyncIterable<UserImportRow>,
  batchRows: number,
): Promise<UserLoadCounts> {
  const counts: UserLoadCounts = { total: 0, failed: 0, inserted: 0, updated: 0, duplicates: 0 };
  await query(pool, RESET_SQL, [job.jobId]);
  let valid: { line: number; row: UserRow }[] = [];
  let invalid: { line: number; reference: string | null; errors: readonly string[] }[] = [];
  for await (const item of rows) {
    counts.total += 1;
    if ('row' in item) valid.push(item);
    else {
      invalid.push(item);
      counts.failed += 1;
    }
    if (valid.length + invalid.length >= batchRows) {
      await writeBatch(pool, job, valid, invalid, counts);
      valid = [];
      invalid = [];
    }
  }
  if (valid.length + invalid.length > 0) await writeBatch(pool, job, valid, invalid, counts);
  return counts;
}
