import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { MAX_REFERENCE_LENGTH } from '../csv/parse-range.ts';
import { unescapeCellSql } from '../csv/spreadsheet-escape.ts';
import {
  type DbBatchPosition,
  IDLE_IN_TRANSACTION_TIMEOUT,
  WORK_MEM,
  type WrittenCounts,
  writeStagedBatch,
} from '../db/staged-batch.ts';
import type { JobRef } from '../model/types.ts';
import type { DbBatch } from './staged-rows.ts';

/**
 * How staged rows map to nodes: the temp table's columns after `line`, and the SQL expressions of the
 * reference and of the metadata over them.
 */
export interface StageLayout {
  readonly columns: string;
  readonly reference: string;
  readonly metadata: string;
}

const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * The layout of CSV records staged as they are (see `stageCsvRange`): one text column per header column;
 * the metadata object is built in SQL from the non-empty cells (COPY reads an unquoted empty cell as NULL,
 * a quoted one as ''), by `jsonb_object` over a keys array and a values array: half the cost of
 * `jsonb_build_object` of the pairs (about 2 µs against 4 µs a row of eight columns), and no argument limit.
 * Empty cells become JSON nulls that `jsonb_strip_nulls` removes; a row without any (the usual row) skips that
 * second pass over its object (1.5 µs a row). A cell is empty after the unescape only if it was before.
 */
export function csvStageLayout(header: readonly string[], referenceColumn: number): StageLayout {
  const columns = header.map((name, c) => ({ name, c })).filter(({ c }) => c !== referenceColumn);
  const keys = columns.map(({ name }) => quoteLiteral(name)).join(', ');
  const values = (each: (cell: string) => string) =>
    `ARRAY[${columns.map(({ c }) => each(unescapeCellSql(`c${c}`))).join(', ')}]::text[]`;
  const full = columns.map(({ c }) => `c${c} <> ''`).join(' AND ');
  return {
    columns: header.map((_, c) => `c${c} text`).join(', '),
    reference: unescapeCellSql(`c${referenceColumn}`),
    // With no column but the reference (a reference list), nodes get no metadata row, and existing
    // metadata is left as it is.
    metadata:
      columns.length > 0
        ? `CASE WHEN ${full} THEN jsonb_object(ARRAY[${keys}]::text[], ${values((cell) => cell)})
            ELSE jsonb_strip_nulls(jsonb_object(ARRAY[${keys}]::text[], ${values((cell) => `nullif(${cell}, '')`)})) END`
        : 'NULL::jsonb',
  };
}

/** The layout of parsed rows: the reference and the metadata already serialised as JSON. */
export const PARSED_ROW_LAYOUT: StageLayout = {
  columns: 'reference_id text, metadata jsonb',
  reference: 'reference_id',
  metadata: 'metadata',
};

// The reference rules of parseCsvRange, in SQL: blank means only the characters JavaScript's trim()
// removes; the length counts code points.
const BLANK = String.raw`'^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$'`;
const missing = (ref: string) => `(${ref} IS NULL OR ${ref} ~ ${BLANK})`;
const tooLong = (ref: string) => `char_length(${ref}) > ${MAX_REFERENCE_LENGTH}`;
/** A reference that fails the checks: missing or too long (its rows are rejections, not nodes). */
const badReference = (ref: string) => `(${missing(ref)} OR ${tooLong(ref)})`;

/** The statements of one DB batch for a layout. */
export interface BatchSql {
  readonly begin: string;
  readonly copy: string;
  readonly upsert: string;
  /** The upsert of a DB batch committed before, run again: see {@link batchSql}. */
  readonly upsertAgain: string;
  /** The DB batch's rows as new nodes, tried first: see {@link batchSql}. */
  readonly insertNew: string;
}

/**
 * A stored node holding newer data than the row of another job: kept as it is. Rows of the same job are
 * never stale to each other (one job has one as-of; a job row without one gives each statement its own time).
 */
const NEWER_NODE = '(n.as_of > excluded.as_of AND n.last_job_id IS DISTINCT FROM excluded.last_job_id)';

/** The job's as-of, fixed by its plan (the statement's time for a job row without one). */
const JOB_AS_OF = `job AS MATERIALIZED (
  SELECT coalesce((SELECT as_of FROM import_jobs WHERE id = $3), statement_timestamp()) AS as_of
)`;

/** A node's id: $4 is a per-batch UUIDv7 prefix, the line fills the rest (time-ordered, computable twice). */
const NODE_ID = (line: string) => `($4 || lpad(to_hex(${line} % 4294967296), 8, '0'))::uuid`;

/** A CTE recording the lines of CTE `staged` (`line`, `reference_id`) whose reference fails the checks. */
const BAD_REFERENCES = `bad AS (
  INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
  SELECT $3, $2, line, NULL,
    CASE WHEN ${missing('reference_id')} THEN 'MISSING_REFERENCE' ELSE 'REFERENCE_TOO_LONG' END,
    CASE WHEN ${missing('reference_id')} THEN 'reference_id is empty'
      ELSE format('reference_id has %s characters, more than ${MAX_REFERENCE_LENGTH}', char_length(reference_id)) END
  FROM staged WHERE ${badReference('reference_id')}
  ON CONFLICT (job_id, line) DO NOTHING
  RETURNING line
)`;

export function batchSql(layout: StageLayout): BatchSql {
  const ref = `(${layout.reference}) COLLATE "C"`;
  /** Each staged line's reference, checked and recorded (`bad`) from here. */
  const staged = `staged AS MATERIALIZED (
  SELECT line, ${ref} AS reference_id FROM mb_stage
)`;
  /**
   * One statement checks the references, de-duplicates (last line wins) and writes nodes and their
   * metadata. Rows are fed in reference order, so concurrent batches lock rows in the same order and
   * cannot deadlock. The DO UPDATE applies only when the row was last written by another job or by an
   * earlier (or the same) line of this job; `job_writes` counts the distinct lines of this job that wrote
   * the node. A node skipped by that WHERE, or returned with job_writes > 1, was already written by this
   * job from another line: a duplicate. New nodes get time-ordered ids ($4 is a per-batch UUIDv7 prefix,
   * the line fills the rest), so primary-key inserts stay local. Metadata is written only for the nodes
   * actually written: a plain insert for new nodes (no conflict is possible), an upsert skipping unchanged
   * metadata for the others.
   * The node's success-list line is `job_first_line`, the line of its job that wrote it first (the one
   * returned with job_writes = 1). Run `again` (a DB batch committed before, rewritten by a retried batch),
   * it also lists the nodes it holds that a later line of the job has written since: the WHERE skips them,
   * yet they were listed by this DB batch the first time.
   * As-of: a node is overwritten only by data as new as its own (`job.as_of`, the job's, fixed by its
   * plan; NULL on nodes written before as-of existed counts as older than anything). A node holding newer
   * data (necessarily another job's: a job has one as-of) takes the DO UPDATE with every column kept as it
   * is, rather than be skipped by the WHERE, so that RETURNING names it: still another job's, it is `stale`,
   * and neither written, listed nor given metadata. Decided on the row's latest version, as the WHERE is, so
   * the count holds when a concurrent job commits newer data while this statement waits for the row.
   */
  const upsert = (again: boolean) => `WITH ${JOB_AS_OF}, ${staged}, src AS MATERIALIZED (
  SELECT DISTINCT ON (${ref}) ${ref} AS reference_id, line, (${layout.metadata}) AS metadata
  FROM mb_stage
  WHERE NOT ${badReference(ref)}
  ORDER BY ${ref}, line DESC
), ${BAD_REFERENCES}, up AS (
  INSERT INTO nodes AS n (id, reference_id, group_id, domain_id, last_job_id, last_line, job_first_line, as_of)
  SELECT ${NODE_ID('s.line')}, s.reference_id, $1, $2, $3, s.line, s.line, job.as_of
  FROM src s CROSS JOIN job ORDER BY s.reference_id
  ON CONFLICT (domain_id, group_id, reference_id) DO UPDATE SET
    updated_at = CASE WHEN ${NEWER_NODE} THEN n.updated_at ELSE now() END,
    as_of = greatest(n.as_of, excluded.as_of),
    last_job_id = CASE WHEN ${NEWER_NODE} THEN n.last_job_id ELSE excluded.last_job_id END,
    last_line = CASE WHEN ${NEWER_NODE} THEN n.last_line ELSE excluded.last_line END,
    job_writes = CASE
      WHEN ${NEWER_NODE} THEN n.job_writes
      WHEN n.last_job_id = excluded.last_job_id AND n.last_line <> excluded.last_line THEN n.job_writes + 1
      WHEN n.last_job_id = excluded.last_job_id THEN n.job_writes
      ELSE 1
    END,
    job_first_line = CASE
      WHEN ${NEWER_NODE} OR n.last_job_id = excluded.last_job_id THEN n.job_first_line
      ELSE excluded.last_line
    END
  WHERE n.last_job_id IS DISTINCT FROM excluded.last_job_id OR n.last_line <= excluded.last_line
  RETURNING n.id, n.reference_id, n.job_writes, n.xmax = 0 AS inserted, n.last_job_id IS DISTINCT FROM $3 AS stale
), written AS MATERIALIZED (
  SELECT * FROM up WHERE NOT stale
), meta_new AS (
  INSERT INTO node_metadata (node_id, domain_id, metadata)
  SELECT w.id, $2, s.metadata FROM written w JOIN src s ON s.reference_id = w.reference_id WHERE w.inserted AND s.metadata IS NOT NULL
), meta AS (
  INSERT INTO node_metadata AS m (node_id, domain_id, metadata)
  SELECT w.id, $2, s.metadata FROM written w JOIN src s ON s.reference_id = w.reference_id WHERE NOT w.inserted AND s.metadata IS NOT NULL
  ON CONFLICT (node_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()
  WHERE m.metadata IS DISTINCT FROM excluded.metadata
)${
    again
      ? `, listed_before AS (
  SELECT s.reference_id FROM src s
  JOIN nodes n ON n.domain_id = $2 AND n.group_id = $1 AND n.reference_id = s.reference_id
  WHERE n.last_job_id = $3 AND n.job_first_line = s.line
    AND NOT EXISTS (SELECT 1 FROM up WHERE up.reference_id = s.reference_id)
)`
      : ''
  }
SELECT (SELECT count(*) FROM staged) AS staged,
       (SELECT count(*) FROM staged WHERE ${badReference('reference_id')}) AS bad,
       count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted AND NOT stale AND job_writes = 1) AS updated,
       count(*) FILTER (WHERE stale) AS stale,
       array_to_json(coalesce(array_agg(reference_id) FILTER (WHERE job_writes = 1 AND NOT stale), '{}')${
         again ? ` || (SELECT coalesce(array_agg(reference_id), '{}') FROM listed_before)` : ''
       }) AS refs
FROM up`;
  /**
   * The rows of a DB batch whose references are all new to the group and distinct, as a plain insert of nodes
   * and metadata straight from the stage: no de-duplicating sort, no conflict check, no join (a node's id is
   * computed from its line on both sides). Any reference that exists or repeats fails it with a unique
   * violation, and the upsert does the work instead. It saves little: the inserts, the metadata's foreign-key
   * check and the jsonb are most of the work either way (1M rows through the local pipeline on PostgreSQL 15:
   * 23.0 s and 32 s of server CPU against 24.6 s and 35 s with the upsert alone, means of three runs each).
   */
  const insertNew = `WITH ${JOB_AS_OF}, ${staged}, up AS (
  INSERT INTO nodes (id, reference_id, group_id, domain_id, last_job_id, last_line, job_first_line, as_of)
  SELECT ${NODE_ID('line')}, reference_id, $1, $2, $3, line, line, job.as_of
  FROM staged CROSS JOIN job WHERE NOT ${badReference('reference_id')}
  RETURNING 1
), meta AS (
  INSERT INTO node_metadata (node_id, domain_id, metadata)
  SELECT ${NODE_ID('s.line')}, $2, s.metadata FROM (
    SELECT line, (${layout.metadata}) AS metadata FROM mb_stage WHERE NOT ${badReference(ref)}
  ) s WHERE s.metadata IS NOT NULL
), ${BAD_REFERENCES}
SELECT (SELECT count(*) FROM up) AS inserted, 0 AS updated, 0 AS stale,
       count(*) FILTER (WHERE ${badReference('reference_id')}) AS bad,
       array_to_json(coalesce(array_agg(reference_id) FILTER (WHERE NOT ${badReference('reference_id')}), '{}')) AS refs
FROM staged`;
  return {
    insertNew,
    /**
     * Opens the DB batch: temp table, COPY target. Temp table, COPY and upsert stay in one transaction
     * (RDS Proxy pins a session that creates a temp table; ON COMMIT DROP ends that with the transaction).
     */
    begin: `BEGIN;
SET LOCAL work_mem = '${WORK_MEM}';
SET LOCAL jit = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL idle_in_transaction_session_timeout = '${IDLE_IN_TRANSACTION_TIMEOUT}';
CREATE TEMP TABLE mb_stage (line bigint NOT NULL, ${layout.columns}) ON COMMIT DROP;
SELECT pg_backend_pid() AS pid`,
    copy: 'COPY mb_stage FROM STDIN WITH (FORMAT csv, FREEZE)',
    upsert: upsert(false),
    upsertAgain: upsert(true),
  };
}

export interface WrittenBatch extends WrittenCounts {
  /** Staged rows whose reference failed the checks (recorded as rejections by the statement). */
  readonly bad: number;
  readonly references: string[];
}

interface UpsertResult {
  bad: string;
  stale: string;
  inserted: string;
  updated: string;
  /**
   * A JSON array rather than a text[]: the driver reads JSON with JSON.parse, a text[] with a parser written
   * in JavaScript (0.5 s of client CPU per 1M references).
   */
  refs: string[];
}

/** A per-batch prefix of time-ordered ids (UUIDv7: 48-bit milliseconds, version, variant, random bits). */
function uuidV7Prefix(): string {
  const random = randomBytes(6);
  const time = Date.now().toString(16).padStart(12, '0');
  const variant = (0x8 | (random[0]! & 0x3)).toString(16);
  const rest = random.subarray(1).toString('hex');
  // 12 time + '7' + 3 random + variant + 7 random = 24 hex digits; the line fills the last 8.
  return `${time}7${rest.slice(0, 3)}${variant}${rest.slice(3, 10)}`;
}

/** Writes one DB batch in one transaction on one checked-out client. */
export async function writeBatch(
  pool: pg.Pool,
  job: JobRef,
  sql: BatchSql,
  batch: DbBatch,
  signal: AbortSignal | undefined,
  position: DbBatchPosition | undefined,
  /** The DB batch committed before: its upsert runs `again`. */
  again: boolean,
  /** A dry run: the same statements, the writes to nodes and metadata rolled back. */
  dryRun: boolean,
  /** Tries the rows as new nodes first; `failed` is called when one exists or repeats. */
  insertNew: { readonly failed: () => void } | undefined,
): Promise<WrittenBatch> {
  return writeStagedBatch<UpsertResult, WrittenBatch>(pool, job, {
    begin: sql.begin,
    copy: sql.copy,
    payload: batch.records > 0 ? batch.payload : [],
    upsert: again ? sql.upsertAgain : sql.upsert,
    // A DB batch committed before holds its own rows: only the upsert can write them again.
    optimistic: insertNew && !again ? { insert: sql.insertNew, onConflict: insertNew.failed } : undefined,
    params: [job.groupId, job.domainId, job.jobId, uuidV7Prefix()],
    summarize: (row) => ({
      inserted: Number(row.inserted),
      updated: Number(row.updated),
      stale: Number(row.stale),
      bad: Number(row.bad),
      // RETURNING follows the sorted input, so this sort is a near no-op pass that guarantees the order.
      references: row.refs.sort(),
    }),
    nothingStaged: { inserted: 0, updated: 0, stale: 0, bad: 0, references: [] },
    rejections: batch.rejections,
    signal,
    position,
    ...(dryRun ? { dryRun: { stageTable: 'mb_stage' } } : {}),
  });
}
