import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { MAX_REFERENCE_LENGTH, NUL_CHARACTER, type ParsedRow, type StagedBlock } from '../csv/parse-range.ts';
import { unescapeCellSql } from '../csv/spreadsheet-escape.ts';
import { isDeadlock, isUniqueViolation, mapDatabaseError } from '../db/errors.ts';
import { checkoutClient, releaseClient, rollback } from '../db/pool.ts';
import { query } from '../db/query.ts';
import { DeadlineExceededError } from '../errors.ts';
import type { BatchIdentity, JobRef, RowRejection } from '../model/types.ts';

/** What one `loadNodes` call saw and did. For a job, inserted + updated + duplicates + failed = data rows. */
export interface LoadCounts {
  /** Valid rows seen (duplicates included). */
  rows: number;
  /** Nodes created. */
  inserted: number;
  /** Existing nodes (from earlier jobs) written by this job for the first time. */
  updated: number;
  /** Rows whose reference this job wrote (or will write) from another line: counted once, last line wins. */
  duplicates: number;
  /** Rejected rows, recorded in `import_job_errors`. */
  failed: number;
}

/** What a committed DB batch reports to `onCommitted`. */
export interface CommittedChunk {
  /** References this job wrote for the first time in this DB batch, sorted. */
  readonly references: string[];
  /** The rejections recorded in this DB batch. */
  readonly rejections: RowRejection[];
}

export interface LoadNodesOptions {
  /** Rows (valid or rejected) per database transaction. Memory is bounded by twice this. */
  readonly dbBatchRows: number;
  /** Staged bytes at which a DB batch ends, however few its rows. Default {@link DB_BATCH_BYTES}. */
  readonly dbBatchBytes?: number;
  /** Aborting stops the load: the open transaction is cancelled and rolled back. */
  readonly signal?: AbortSignal;
  /** Called after each DB batch commits, in input order, before the next one commits. */
  readonly onCommitted?: (chunk: CommittedChunk) => Promise<void> | void;
  /** The batch these rows are, to count each DB batch once: see {@link DbBatchPosition}. */
  readonly batch?: BatchIdentity;
}

/**
 * Where a DB batch lies in its batch. Its inserted and updated counts are recorded in its own transaction;
 * a batch that stopped midway and runs again rewrites the DB batches it had committed (idempotently) and
 * reports their recorded counts, so the rows it inserted before are not counted again as updated.
 */
export interface DbBatchPosition {
  readonly batch: BatchIdentity;
  /** The batch's rows (valid or rejected) before this DB batch. */
  readonly rowOffset: number;
  readonly rows: number;
}

/** What a DB batch wrote, as counted by {@link writeStagedBatch}'s caller. */
export interface WrittenCounts {
  readonly inserted: number;
  readonly updated: number;
}

/**
 * Records a DB batch's counts, or returns those recorded when the same DB batch committed before (the
 * no-op update makes RETURNING give the stored row).
 */
const RECORD_DB_BATCH_SQL = `INSERT INTO import_job_db_batches AS r
  (job_id, batch_index, batch_key, row_offset, row_count, inserted, updated)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (job_id, batch_index, batch_key, row_offset, row_count) DO UPDATE SET inserted = r.inserted
RETURNING inserted, updated`;

export { NUL_CHARACTER };

/**
 * Sort and hash space for the upsert's sort and joins, so that a DB batch never spills to disk. The temp
 * table has no statistics and the planner overestimates it: it would JIT-compile the statement (which costs
 * more than it saves) and sort both sides of each join for a merge join, where hashing is cheaper.
 */
export const WORK_MEM = '64MB';
/**
 * Staged bytes at which a DB batch ends before its `dbBatchRows`: wide rows (5 KB each) would otherwise make
 * a 20,000-row DB batch of 100 MB, and memory holds two of them per batch loading.
 */
export const DB_BATCH_BYTES = 16 * 1024 * 1024;
/** Kills a session left idle inside a load transaction (a frozen Lambda holding row locks). */
export const IDLE_IN_TRANSACTION_TIMEOUT = '60s';
/** How long a cancelled statement may take to stop before its connection is closed instead. */
const CANCEL_GRACE_MS = 3_000;

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
 * a quoted one as '').
 */
export function csvStageLayout(header: readonly string[], referenceColumn: number): StageLayout {
  const pairs = header
    .map((name, c) =>
      c === referenceColumn ? '' : `${quoteLiteral(name)}, nullif(${unescapeCellSql(`c${c}`)}, '')`,
    )
    .filter((pair) => pair !== '');
  return {
    columns: header.map((_, c) => `c${c} text`).join(', '),
    reference: unescapeCellSql(`c${referenceColumn}`),
    // With no column but the reference (a reference list), nodes get no metadata row, and existing
    // metadata is left as it is.
    metadata: pairs.length > 0 ? `jsonb_strip_nulls(${jsonbObjectOf(pairs)})` : 'NULL::jsonb',
  };
}

/** Key/value pairs per `jsonb_build_object` call: a function takes at most 100 arguments (FUNC_MAX_ARGS). */
const PAIRS_PER_CALL = 50;

/** One jsonb object of `pairs` (`'key', value` each), built by as many calls as the argument limit needs. */
function jsonbObjectOf(pairs: readonly string[]): string {
  const calls: string[] = [];
  for (let at = 0; at < pairs.length; at += PAIRS_PER_CALL) {
    calls.push(`jsonb_build_object(${pairs.slice(at, at + PAIRS_PER_CALL).join(', ')})`);
  }
  return calls.join(' || ');
}

/** The layout of parsed rows: the reference and the metadata already serialised as JSON. */
const PARSED_ROW_LAYOUT: StageLayout = {
  columns: 'reference_id text, metadata jsonb',
  reference: 'reference_id',
  metadata: 'metadata',
};

// The reference rules of parseCsvRange, in SQL: blank means only the characters JavaScript's trim()
// removes; the length counts code points.
const BLANK = String.raw`'^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$'`;
const missing = (ref: string) => `(${ref} IS NULL OR ${ref} ~ ${BLANK})`;
const tooLong = (ref: string) => `char_length(${ref}) > ${MAX_REFERENCE_LENGTH}`;

/** The statements of one DB batch for a layout. */
interface BatchSql {
  readonly begin: string;
  readonly copy: string;
  readonly upsert: string;
  /** The upsert of a DB batch committed before, run again: see {@link batchSql}. */
  readonly upsertAgain: string;
}

function batchSql(layout: StageLayout): BatchSql {
  const ref = `(${layout.reference}) COLLATE "C"`;
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
   */
  const upsert = (again: boolean) => `WITH staged AS MATERIALIZED (
  SELECT line, ${ref} AS reference_id FROM mb_stage
), src AS MATERIALIZED (
  SELECT DISTINCT ON (${ref}) ${ref} AS reference_id, line, (${layout.metadata}) AS metadata
  FROM mb_stage
  WHERE NOT ${missing(ref)} AND NOT ${tooLong(ref)}
  ORDER BY ${ref}, line DESC
), bad AS (
  INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
  SELECT $3, $2, line, NULL,
    CASE WHEN ${missing('reference_id')} THEN 'MISSING_REFERENCE' ELSE 'REFERENCE_TOO_LONG' END,
    CASE WHEN ${missing('reference_id')} THEN 'reference_id is empty'
      ELSE format('reference_id has %s characters, more than ${MAX_REFERENCE_LENGTH}', char_length(reference_id)) END
  FROM staged WHERE ${missing('reference_id')} OR ${tooLong('reference_id')}
  ON CONFLICT (job_id, line) DO NOTHING
  RETURNING line
), up AS (
  INSERT INTO nodes AS n (id, reference_id, group_id, domain_id, last_job_id, last_line, job_first_line)
  SELECT ($4 || lpad(to_hex(s.line % 4294967296), 8, '0'))::uuid, s.reference_id, $1, $2, $3, s.line, s.line
  FROM src s ORDER BY s.reference_id
  ON CONFLICT (domain_id, group_id, reference_id) DO UPDATE SET
    updated_at = now(),
    last_job_id = excluded.last_job_id,
    last_line = excluded.last_line,
    job_writes = CASE
      WHEN n.last_job_id = excluded.last_job_id AND n.last_line <> excluded.last_line THEN n.job_writes + 1
      WHEN n.last_job_id = excluded.last_job_id THEN n.job_writes
      ELSE 1
    END,
    job_first_line = CASE WHEN n.last_job_id = excluded.last_job_id THEN n.job_first_line ELSE excluded.last_line END
  WHERE n.last_job_id IS DISTINCT FROM excluded.last_job_id OR n.last_line <= excluded.last_line
  RETURNING n.id, n.reference_id, n.job_writes, n.xmax = 0 AS inserted
), meta_new AS (
  INSERT INTO node_metadata (node_id, domain_id, metadata)
  SELECT up.id, $2, s.metadata FROM up JOIN src s ON s.reference_id = up.reference_id WHERE up.inserted AND s.metadata IS NOT NULL
), meta AS (
  INSERT INTO node_metadata AS m (node_id, domain_id, metadata)
  SELECT up.id, $2, s.metadata FROM up JOIN src s ON s.reference_id = up.reference_id WHERE NOT up.inserted AND s.metadata IS NOT NULL
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
       (SELECT count(*) FROM staged WHERE ${missing('reference_id')} OR ${tooLong('reference_id')}) AS bad,
       count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted AND job_writes = 1) AS updated,
       coalesce(array_agg(reference_id) FILTER (WHERE job_writes = 1), '{}')${
         again ? ` || (SELECT coalesce(array_agg(reference_id), '{}') FROM listed_before)` : ''
       } AS refs
FROM up`;
  return {
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

/** Records rejections: `$1` job, `$2` domain, then the arrays of {@link rejectionParams}. */
const REJECTIONS_SQL = `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
SELECT $1, $2, r.line, r.reference, r.code, r.reason
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS r (line, reference, code, reason)
ON CONFLICT (job_id, line) DO NOTHING`;

/**
 * Loads parsed node rows into `nodes` and `node_metadata` and rejections into `import_job_errors`: the
 * general path (any source of rows). Files take {@link loadStagedNodes} with `stageCsvRange`, which leaves
 * field parsing to COPY.
 *
 * @throws DeadlineExceededError when `signal` aborts (the open DB batch is rolled back);
 *   DatabaseUnavailableError when the connection fails; errors of `rows` as they are.
 */
export function loadNodes(
  pool: pg.Pool,
  job: JobRef,
  rows: AsyncIterable<ParsedRow | RowRejection>,
  opts: LoadNodesOptions,
): Promise<LoadCounts> {
  return loadStagedNodes(
    pool,
    job,
    stageParsedRows(rows, Math.min(PARSED_BLOCK_ROWS, opts.dbBatchRows)),
    PARSED_ROW_LAYOUT,
    opts,
  );
}

/** Rows per block when staging parsed rows (fewer when a DB batch is smaller). */
const PARSED_BLOCK_ROWS = 1000;

/** Encodes parsed rows as CSV lines `line,"reference","metadata JSON"` for {@link PARSED_ROW_LAYOUT}. */
async function* stageParsedRows(
  rows: AsyncIterable<ParsedRow | RowRejection>,
  blockRows: number,
): AsyncGenerator<StagedBlock> {
  let text = '';
  let records = 0;
  let rejections: RowRejection[] = [];
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  for await (const item of rows) {
    if ('code' in item) {
      rejections.push(item);
    } else if (hasNul(item)) {
      rejections.push({
        line: item.line,
        reference: item.reference.replaceAll('\0', '\uFFFD'),
        code: NUL_CHARACTER,
        reason: 'the row contains a NUL character, which cannot be stored',
      });
    } else {
      text += `${item.line},${quote(item.reference)},${quote(JSON.stringify(item.metadata))}\n`;
      records += 1;
    }
    if (records + rejections.length >= blockRows) {
      yield { csv: Buffer.from(text), records, rejections };
      text = '';
      records = 0;
      rejections = [];
    }
  }
  if (records + rejections.length > 0) yield { csv: Buffer.from(text), records, rejections };
}

/**
 * Loads staged rows (CSV lines `line,<columns of the layout>`) into `nodes` and `node_metadata`, and
 * rejections into `import_job_errors`. Blocks are grouped into DB batches of about `dbBatchRows` rows;
 * each is one transaction (COPY into a temp table, then one statement that checks references,
 * de-duplicates and upserts), committed before `onCommitted` is called. While one DB batch is being
 * written the next one is gathered, so reading and the database work overlap and memory stays bounded.
 *
 * Duplicate references are resolved last-line-wins, within a DB batch and across the batches of the same
 * job however they interleave, and counted once. Re-loading a batch of the same job is idempotent.
 *
 * @throws DeadlineExceededError when `signal` aborts (the open DB batch is rolled back);
 *   DatabaseUnavailableError when the connection fails; errors of `blocks` as they are.
 */
export async function loadStagedNodes(
  pool: pg.Pool,
  job: JobRef,
  blocks: AsyncIterable<StagedBlock>,
  layout: StageLayout,
  opts: LoadNodesOptions,
): Promise<LoadCounts> {
  const { dbBatchRows, dbBatchBytes = DB_BATCH_BYTES, signal, onCommitted, batch } = opts;
  if (!Number.isSafeInteger(dbBatchRows) || dbBatchRows < 1) {
    throw new RangeError(`dbBatchRows must be a positive integer, got ${dbBatchRows}`);
  }
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
  const sql = batchSql(layout);
  const committedBefore = batch ? await committedDbBatches(pool, job, batch) : new Set<string>();
  const counts: LoadCounts = { rows: 0, inserted: 0, updated: 0, duplicates: 0, failed: 0 };
  await writeInBatches(blocks, job, {
    dbBatchRows,
    dbBatchBytes,
    signal,
    newBatch: () => new DbBatch(),
    sizeOf: (block) => block.records + block.rejections.length,
    write: async (full, rowOffset) => {
      const position = batch && { batch, rowOffset, rows: full.size };
      const again = committedBefore.has(dbBatchKey(rowOffset, full.size));
      const written = await writeBatch(pool, job, sql, full, signal, position, again);
      counts.rows += full.records - written.bad;
      counts.failed += full.rejections.length + written.bad;
      counts.inserted += written.inserted;
      counts.updated += written.updated;
      counts.duplicates += full.records - written.bad - written.inserted - written.updated;
      await onCommitted?.({ references: written.references, rejections: full.rejections });
    },
  });
  return counts;
}

const dbBatchKey = (rowOffset: number | string, rows: number | string) => `${rowOffset}+${rows}`;

/** The DB batches of `batch` that committed before (the batch runs again), as {@link dbBatchKey}s. */
async function committedDbBatches(pool: pg.Pool, job: JobRef, batch: BatchIdentity): Promise<Set<string>> {
  const { rows } = await query<{ row_offset: string; row_count: string }>(
    pool,
    `SELECT row_offset, row_count FROM import_job_db_batches
     WHERE job_id = $1 AND batch_index = $2 AND batch_key = $3`,
    [job.jobId, batch.index, batch.key],
  );
  return new Set(rows.map((row) => dbBatchKey(row.row_offset, row.row_count)));
}

/** A DB batch being gathered: items are added until it holds `dbBatchRows` rows or `dbBatchBytes` bytes. */
export interface GatheredBatch<I> {
  /** Rows. */
  readonly size: number;
  /** Bytes staged. */
  readonly bytes: number;
  add(item: I): void;
}

/**
 * Groups items into DB batches of at most `dbBatchRows` rows (an item larger than that makes a batch of its
 * own), ending one early once it holds `dbBatchBytes` (it passes that by at most one item), and writes them one at a time, in order, while the next one is gathered: reading and the database
 * overlap, and memory holds at most two batches. Aborting, or a failed write, stops the reading; no write is
 * left running when this returns or throws.
 *
 * @throws DeadlineExceededError when `signal` aborts; the write's or the source's error otherwise.
 */
export async function writeInBatches<I, B extends GatheredBatch<I>>(
  items: AsyncIterable<I>,
  job: JobRef,
  opts: {
    readonly dbBatchRows: number;
    readonly dbBatchBytes: number;
    readonly signal: AbortSignal | undefined;
    readonly newBatch: () => B;
    /** Rows an item adds to a batch. */
    readonly sizeOf: (item: I) => number;
    /** Writes a DB batch; `rowOffset`: the rows of the batches before it. */
    readonly write: (batch: B, rowOffset: number) => Promise<void>;
  },
): Promise<void> {
  const { dbBatchRows, dbBatchBytes, signal, newBatch, sizeOf, write } = opts;
  let batch = newBatch();
  let writing: Promise<void> | undefined;
  let writeFailed = false;
  let rowOffset = 0;
  const submit = async (full: B): Promise<void> => {
    if (writing) await writing;
    if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
    writing = write(full, rowOffset);
    rowOffset += full.size;
    // Awaited later; meanwhile a failure stops the reading early and is not reported as unhandled.
    writing.catch(() => {
      writeFailed = true;
    });
  };

  const source = abortableSource(items, signal, job);
  try {
    while (true) {
      if (writeFailed) await writing;
      const step = await source.next();
      if (step.done) break;
      // A DB batch never grows past dbBatchRows because of an item (an item alone may be larger).
      if (batch.size > 0 && batch.size + sizeOf(step.value) > dbBatchRows) {
        await submit(batch);
        batch = newBatch();
      }
      batch.add(step.value);
      // Decoding runs between I/O turns only when it awaits I/O: let the running write's replies in.
      if (writing) await nextTurn();
      if (batch.size >= dbBatchRows || batch.bytes >= dbBatchBytes) {
        await submit(batch);
        batch = newBatch();
      }
    }
    if (batch.size > 0) await submit(batch);
    if (writing) await writing;
  } catch (err) {
    source.close();
    // Never leave a transaction running behind the caller's back.
    if (writing) await writing.catch(() => {});
    if (signal?.aborted && !(err instanceof DeadlineExceededError)) throw deadlineExceeded(job, err);
    throw err;
  } finally {
    source.release();
  }
}

/** The staged rows and rejections of one DB batch. */
class DbBatch {
  readonly payload: Buffer[] = [];
  readonly rejections: RowRejection[] = [];
  records = 0;
  size = 0;
  bytes = 0;

  add(block: StagedBlock): void {
    if (block.records > 0) {
      this.payload.push(block.csv);
      this.bytes += block.csv.length;
    }
    this.records += block.records;
    for (const rejection of block.rejections) this.rejections.push(rejection);
    this.size += block.records + block.rejections.length;
  }
}

function hasNul(row: ParsedRow): boolean {
  if (row.reference.includes('\0')) return true;
  for (const key in row.metadata) {
    if (key.includes('\0') || row.metadata[key]?.includes('\0')) return true;
  }
  return false;
}

interface WrittenBatch extends WrittenCounts {
  /** Staged rows whose reference failed the checks (recorded as rejections by the statement). */
  readonly bad: number;
  readonly references: string[];
}

interface UpsertResult {
  bad: string;
  inserted: string;
  updated: string;
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
async function writeBatch(
  pool: pg.Pool,
  job: JobRef,
  sql: BatchSql,
  batch: DbBatch,
  signal: AbortSignal | undefined,
  position: DbBatchPosition | undefined,
  /** The DB batch committed before: its upsert runs `again`. */
  again: boolean,
): Promise<WrittenBatch> {
  return writeStagedBatch<UpsertResult, WrittenBatch>(pool, job, {
    begin: sql.begin,
    copy: sql.copy,
    payload: batch.records > 0 ? batch.payload : [],
    upsert: again ? sql.upsertAgain : sql.upsert,
    params: [job.groupId, job.domainId, job.jobId, uuidV7Prefix()],
    summarize: (row) => ({
      inserted: Number(row.inserted),
      updated: Number(row.updated),
      bad: Number(row.bad),
      // RETURNING follows the sorted input, so this sort is a near no-op pass that guarantees the order.
      references: row.refs.sort(),
    }),
    nothingStaged: { inserted: 0, updated: 0, bad: 0, references: [] },
    rejections: batch.rejections,
    signal,
    position,
  });
}

/**
 * One DB batch as one transaction on one checked-out client: `begin` (which creates the temp table and
 * ends by selecting the backend pid), COPY of `payload`, the `upsert` statement whose single summary row
 * `summarize` reads, then the rejections. With nothing staged only the rejections are written. On abort the
 * running statement is cancelled and the transaction rolled back; a client whose rollback failed is closed.
 * With `optimistic`, the payload is first copied with its COPY straight into the target, under a savepoint;
 * should that fail with a unique violation (a key exists) or a deadlock (a concurrent job inserts the same
 * new keys in another order), the savepoint is rolled back and the payload staged and upserted as usual.
 * With `position`, the counts are recorded, or those of an earlier commit of the same DB batch returned.
 *
 * @throws DeadlineExceededError when `signal` aborts; DatabaseUnavailableError when the connection fails.
 */
export async function writeStagedBatch<Row, Result extends WrittenCounts>(
  pool: pg.Pool,
  job: JobRef,
  batch: {
    readonly begin: string;
    readonly copy: string;
    readonly payload: readonly (Buffer | string)[];
    readonly upsert: string;
    readonly optimistic?: {
      readonly copy: string;
      /** What a successful optimistic COPY wrote. */
      readonly written: Result;
      readonly onConflict: () => void;
    };
    readonly params: readonly unknown[];
    readonly summarize: (row: Row) => Result;
    readonly nothingStaged: Result;
    readonly rejections: readonly RowRejection[];
    readonly signal: AbortSignal | undefined;
    readonly position?: DbBatchPosition | undefined;
  },
): Promise<Result> {
  const { signal } = batch;
  const client = await checkoutClient(pool);
  let broken: Error | undefined;
  let cancelling: Promise<void> | undefined;
  const guard = (work: Promise<unknown>, pid: number | undefined) => () => {
    cancelling = cancelStatement(pool, client, pid, work);
  };
  try {
    throwIfAborted(signal, job);
    let written = batch.nothingStaged;
    const staged = batch.payload.length > 0;
    const begin = client.query(staged ? batch.begin : 'BEGIN');
    const opened: unknown = await abortable(signal, begin, guard(begin, undefined));
    if (staged) {
      // A multi-statement query resolves to one result per statement; the last one holds the backend pid.
      const pid = ((opened as pg.QueryResult[]).at(-1)?.rows[0] as { pid?: number } | undefined)?.pid;
      throwIfAborted(signal, job);
      // A COPY into the target can wait on a concurrent writer's row lock: an abort cancels it on the server.
      const copyPayload = (sql: string) => {
        const copying = pipeline(Readable.from(batch.payload), client.query(copyFrom(sql)));
        return abortable(signal, copying, guard(copying, pid));
      };
      let copiedStraight = false;
      if (batch.optimistic) {
        await client.query('SAVEPOINT mb_optimistic');
        try {
          await copyPayload(batch.optimistic.copy);
          copiedStraight = true;
        } catch (err) {
          if (!(isUniqueViolation(err) || isDeadlock(err)) || signal?.aborted) throw err;
          batch.optimistic.onConflict();
          // Back in the transaction that created the temp table: COPY … FREEZE needs that.
          await client.query('ROLLBACK TO SAVEPOINT mb_optimistic; RELEASE SAVEPOINT mb_optimistic');
        }
      }
      if (copiedStraight && batch.optimistic) {
        written = batch.optimistic.written;
      } else {
        await copyPayload(batch.copy);
        throwIfAborted(signal, job);
        const upsert = client.query<pg.QueryResultRow & Row>(batch.upsert, [...batch.params]);
        const result = await abortable(signal, upsert, guard(upsert, pid));
        const row = result.rows[0];
        if (!row) throw new Error('the upsert returned no summary row');
        written = batch.summarize(row);
      }
      throwIfAborted(signal, job);
      if (batch.position) {
        const recording = client.query<{ inserted: string; updated: string }>(
          RECORD_DB_BATCH_SQL,
          dbBatchRecordParams(job, batch.position, written),
        );
        const recorded = (await abortable(signal, recording, guard(recording, pid))).rows[0];
        if (!recorded) throw new Error('the DB batch record returned no row');
        written = { ...written, inserted: Number(recorded.inserted), updated: Number(recorded.updated) };
        throwIfAborted(signal, job);
      }
    }
    if (batch.rejections.length > 0) {
      const recorded = client.query(REJECTIONS_SQL, rejectionParams(job, batch.rejections));
      await abortable(signal, recorded, guard(recorded, undefined));
      throwIfAborted(signal, job);
    }
    await client.query('COMMIT');
    return written;
  } catch (err) {
    if (cancelling) await cancelling;
    broken = await rollback(client);
    if (signal?.aborted) throw deadlineExceeded(job, err);
    throw mapDatabaseError(err);
  } finally {
    releaseClient(client, broken);
  }
}

/** The parameters of {@link RECORD_DB_BATCH_SQL}. */
function dbBatchRecordParams(job: JobRef, position: DbBatchPosition, counts: WrittenCounts): unknown[] {
  const { batch, rowOffset, rows } = position;
  return [job.jobId, batch.index, batch.key, rowOffset, rows, counts.inserted, counts.updated];
}

/** The parameters of {@link REJECTIONS_SQL} (NUL characters, which text cannot hold, replaced). */
function rejectionParams(job: JobRef, rejections: readonly RowRejection[]): unknown[] {
  const clean = (value: string) => (value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value);
  return [
    job.jobId,
    job.domainId,
    rejections.map((r) => r.line),
    rejections.map((r) => (r.reference === null ? null : clean(r.reference))),
    rejections.map((r) => clean(r.code)),
    rejections.map((r) => clean(r.reason)),
  ];
}

/** Awaits `work`, calling `onAbort` if the signal fires meanwhile (the work then settles with an error). */
async function abortable<T>(
  signal: AbortSignal | undefined,
  work: Promise<T>,
  onAbort: () => void,
): Promise<T> {
  if (!signal) return work;
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Stops the statement running on `client`: `pg_cancel_backend` from a separate short-lived connection
 * (works through TLS and RDS Proxy, unlike a protocol cancel request). If the statement has not stopped
 * after a grace period, the connection is closed, which ends the transaction on the server too.
 * Resolves once the cancel was delivered, so a late cancel cannot hit a later statement.
 */
async function cancelStatement(
  pool: pg.Pool,
  client: pg.PoolClient,
  pid: number | undefined,
  work: Promise<unknown>,
): Promise<void> {
  const timer = setTimeout(() => destroyConnection(client), CANCEL_GRACE_MS);
  work.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
  if (pid === undefined) return;
  const canceller = new pg.Client({
    ...pool.options,
    application_name: 'matchbridge-cancel',
    connectionTimeoutMillis: CANCEL_GRACE_MS,
  });
  canceller.on('error', () => {});
  try {
    await canceller.connect();
    await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The grace timer closes the connection instead.
  } finally {
    await canceller.end().catch(() => {});
  }
}

/** Closes the client's socket: the active query fails at once and the server rolls the transaction back. */
function destroyConnection(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * Reads `rows` one item at a time; a pending read rejects with DeadlineExceededError as soon as `signal`
 * aborts, even when the source is stalled on its input. (One listener for the whole read, not a
 * Promise.race per item: racing against one long-lived promise leaks a reaction per call.)
 */
function abortableSource<T>(
  rows: AsyncIterable<T>,
  signal: AbortSignal | undefined,
  job: JobRef,
): { next(): Promise<IteratorResult<T>>; close(): void; release(): void } {
  const iterator = rows[Symbol.asyncIterator]();
  if (!signal) {
    return {
      next: () => iterator.next(),
      close: () => void iterator.return?.()?.catch(() => {}),
      release: () => {},
    };
  }
  let rejectPending: ((err: unknown) => void) | undefined;
  const onAbort = () => rejectPending?.(deadlineExceeded(job, signal.reason));
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    next: () =>
      new Promise<IteratorResult<T>>((resolve, reject) => {
        if (signal.aborted) {
          reject(deadlineExceeded(job, signal.reason));
          return;
        }
        rejectPending = reject;
        iterator.next().then(resolve, reject);
      }),
    // A source still waiting on its input is told to stop; its own cleanup is not waited for.
    close: () => void iterator.return?.()?.catch(() => {}),
    release: () => signal.removeEventListener('abort', onAbort),
  };
}

function throwIfAborted(signal: AbortSignal | undefined, job: JobRef): void {
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
}

/** The error of a load stopped by its deadline (the open DB batch rolled back). */
export function deadlineExceeded(job: JobRef, cause: unknown): DeadlineExceededError {
  return new DeadlineExceededError('load stopped: deadline reached', { jobId: job.jobId }, { cause });
}
