import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ParsedRow } from '../csv/parse-range.ts';
import { DeadlineExceededError } from '../errors.ts';
import type { JobRef, RowRejection } from '../jobs/types.ts';
import { mapDatabaseError } from './errors.ts';
import { checkoutClient, releaseClient, rollback } from './pool.ts';

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
  /** Aborting stops the load: the open transaction is cancelled and rolled back. */
  readonly signal?: AbortSignal;
  /** Called after each DB batch commits, in input order, before the next one commits. */
  readonly onCommitted?: (chunk: CommittedChunk) => Promise<void> | void;
}

/** Rejection code for a row holding a NUL character, which PostgreSQL text and jsonb cannot store. */
export const NUL_CHARACTER = 'NUL_CHARACTER';

/**
 * Sort and hash space for the upsert's sort and joins, so that a DB batch never spills to disk. The temp
 * table has no statistics and the planner overestimates it: it would JIT-compile the statement (which costs
 * more than it saves) and sort both sides of each join for a merge join, where hashing is cheaper.
 */
const WORK_MEM = '64MB';
/** Kills a session left idle inside a load transaction (a frozen Lambda holding row locks). */
const IDLE_IN_TRANSACTION_TIMEOUT = '60s';
/** How long a cancelled statement may take to stop before its connection is closed instead. */
const CANCEL_GRACE_MS = 3_000;
/** Size of the pieces the COPY payload is sent in. */
const COPY_CHUNK_CHARS = 64 * 1024;

/**
 * Opens the DB batch: temp table, COPY target. Temp table, COPY and upsert stay in one transaction (RDS
 * Proxy pins a session that creates a temp table; ON COMMIT DROP ends that with the transaction).
 */
const BEGIN_SQL = `BEGIN;
SET LOCAL work_mem = '${WORK_MEM}';
SET LOCAL jit = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL idle_in_transaction_session_timeout = '${IDLE_IN_TRANSACTION_TIMEOUT}';
CREATE TEMP TABLE mb_stage (
  id uuid NOT NULL,
  line bigint NOT NULL,
  reference_id text COLLATE "C" NOT NULL,
  metadata jsonb NOT NULL
) ON COMMIT DROP;
SELECT pg_backend_pid() AS pid`;

const COPY_SQL = 'COPY mb_stage (id, line, reference_id, metadata) FROM STDIN WITH (FREEZE)';

/**
 * One statement writes nodes and their metadata. Rows arrive de-duplicated and are fed in reference order,
 * so concurrent batches lock rows in the same order and cannot deadlock. The DO UPDATE applies only when
 * the row was last written by another job or by an earlier (or the same) line of this job; `job_writes`
 * counts the distinct lines of this job that wrote the node. A node skipped by that WHERE, or returned with
 * job_writes > 1, was already written by this job from another line: a duplicate. Metadata is written only
 * for the nodes actually written: a plain insert for new nodes (nobody else can reference a node created by
 * this uncommitted statement, so no conflict check is needed), an upsert skipping unchanged metadata for
 * the others.
 */
const UPSERT_SQL = `WITH up AS (
  INSERT INTO nodes AS n (id, reference_id, group_id, domain_id, last_job_id, last_line)
  SELECT s.id, s.reference_id, $1, $2, $3, s.line FROM mb_stage s ORDER BY s.reference_id
  ON CONFLICT (domain_id, group_id, reference_id) DO UPDATE SET
    updated_at = now(),
    last_job_id = excluded.last_job_id,
    last_line = excluded.last_line,
    job_writes = CASE
      WHEN n.last_job_id = excluded.last_job_id AND n.last_line <> excluded.last_line THEN n.job_writes + 1
      WHEN n.last_job_id = excluded.last_job_id THEN n.job_writes
      ELSE 1
    END
  WHERE n.last_job_id IS DISTINCT FROM excluded.last_job_id OR n.last_line <= excluded.last_line
  RETURNING n.id, n.reference_id, n.job_writes, n.xmax = 0 AS inserted
), meta_new AS (
  INSERT INTO node_metadata (node_id, domain_id, metadata)
  SELECT up.id, $2, s.metadata FROM up JOIN mb_stage s ON s.reference_id = up.reference_id WHERE up.inserted
), meta AS (
  INSERT INTO node_metadata AS m (node_id, domain_id, metadata)
  SELECT up.id, $2, s.metadata FROM up JOIN mb_stage s ON s.reference_id = up.reference_id WHERE NOT up.inserted
  ON CONFLICT (node_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()
  WHERE m.metadata IS DISTINCT FROM excluded.metadata
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted AND job_writes = 1) AS updated,
       coalesce(array_agg(reference_id) FILTER (WHERE job_writes = 1), '{}') AS refs
FROM up`;

const REJECTIONS_SQL = `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
SELECT $1, $2, r.line, r.reference, r.code, r.reason
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS r (line, reference, code, reason)
ON CONFLICT (job_id, line) DO NOTHING`;

/**
 * Loads parsed node rows into `nodes` and `node_metadata` and rejections into `import_job_errors`.
 * Rows are grouped into DB batches of `dbBatchRows`; each is one transaction (COPY into a temp table, then
 * one upsert statement), committed before `onCommitted` is called. While one DB batch is being written the
 * next one is gathered, so parsing and the database work overlap and memory stays bounded.
 *
 * Duplicate references are resolved last-line-wins, within a DB batch and across the batches of the same
 * job however they interleave, and counted once. Re-loading a batch of the same job is idempotent.
 *
 * @throws DeadlineExceededError when `signal` aborts (the open DB batch is rolled back);
 *   DatabaseUnavailableError when the connection fails; errors of `rows` as they are.
 */
export async function loadNodes(
  pool: pg.Pool,
  job: JobRef,
  rows: AsyncIterable<ParsedRow | RowRejection>,
  opts: LoadNodesOptions,
): Promise<LoadCounts> {
  const { dbBatchRows, signal, onCommitted } = opts;
  if (!Number.isSafeInteger(dbBatchRows) || dbBatchRows < 1) {
    throw new RangeError(`dbBatchRows must be a positive integer, got ${dbBatchRows}`);
  }
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
  const counts: LoadCounts = { rows: 0, inserted: 0, updated: 0, duplicates: 0, failed: 0 };
  const ids = new UuidV7Source();
  let batch = new DbBatch();
  let writing: Promise<void> | undefined;
  let writeFailed = false;

  const writeAndReport = async (full: DbBatch, payload: Buffer[]): Promise<void> => {
    const written = await writeBatch(pool, job, full.distinct, full.rejections, payload, signal);
    counts.inserted += written.inserted;
    counts.updated += written.updated;
    counts.duplicates += full.duplicates + written.skipped;
    await onCommitted?.({ references: written.references, rejections: full.rejections });
  };
  const submit = async (full: DbBatch): Promise<void> => {
    // Encoding overlaps the previous batch's database work; then one batch at a time is written.
    const payload = full.encode(ids);
    if (writing) await writing;
    if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
    writing = writeAndReport(full, payload);
    // Awaited later; meanwhile a failure stops the reading early and is not reported as unhandled.
    writing.catch(() => {
      writeFailed = true;
    });
  };

  const source = abortableSource(rows, signal, job);
  try {
    while (true) {
      if (writeFailed) await writing;
      const step = await source.next();
      if (step.done) break;
      const item = step.value;
      if ('code' in item) {
        batch.reject(item);
        counts.failed += 1;
      } else if (hasNul(item)) {
        batch.reject({
          line: item.line,
          reference: item.reference.replaceAll('\0', '\uFFFD'),
          code: NUL_CHARACTER,
          reason: 'the row contains a NUL character, which cannot be stored',
        });
        counts.failed += 1;
      } else {
        batch.add(item);
        counts.rows += 1;
      }
      if (batch.size >= dbBatchRows) {
        await submit(batch);
        batch = new DbBatch();
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
  return counts;
}

/** A row as a DB batch keeps it: metadata already serialised (smaller than the object). */
interface StagedRow {
  readonly line: number;
  readonly reference: string;
  readonly json: string;
}

/** The rows of one DB batch, de-duplicated (last line wins), and its rejections. */
class DbBatch {
  readonly rows = new Map<string, StagedRow>();
  readonly rejections: RowRejection[] = [];
  size = 0;
  duplicates = 0;
  /** Distinct references, still known once the rows are encoded and dropped. */
  distinct = 0;

  add(row: ParsedRow): void {
    this.size += 1;
    const seen = this.rows.get(row.reference);
    if (seen !== undefined) {
      this.duplicates += 1;
      if (row.line < seen.line) return;
    }
    this.rows.set(row.reference, {
      line: row.line,
      reference: row.reference,
      json: JSON.stringify(row.metadata),
    });
  }

  reject(rejection: RowRejection): void {
    this.size += 1;
    this.rejections.push(rejection);
  }

  /** The COPY payload (text format): id, line, reference, metadata as JSON. The rows are dropped. */
  encode(ids: UuidV7Source): Buffer[] {
    this.distinct = this.rows.size;
    const chunks: Buffer[] = [];
    let text = '';
    for (const row of this.rows.values()) {
      text += `${ids.next()}\t${row.line}\t${copyEscape(row.reference)}\t${copyEscapeJson(row.json)}\n`;
      if (text.length >= COPY_CHUNK_CHARS) {
        chunks.push(Buffer.from(text, 'utf8'));
        text = '';
      }
    }
    if (text.length > 0) chunks.push(Buffer.from(text, 'utf8'));
    this.rows.clear();
    return chunks;
  }
}

function hasNul(row: ParsedRow): boolean {
  if (row.reference.includes('\0')) return true;
  for (const key in row.metadata) {
    if (key.includes('\0') || row.metadata[key]?.includes('\0')) return true;
  }
  return false;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a value for COPY text format (backslash, tab, newline, carriage return). */
function copyEscape(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c] ?? c) : value;
}

/** JSON text never holds raw tabs or newlines (JSON.stringify escapes them): only backslashes need doubling. */
function copyEscapeJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

interface WrittenBatch {
  readonly inserted: number;
  readonly updated: number;
  /** Distinct references of the batch the job had already written from another line. */
  readonly skipped: number;
  readonly references: string[];
}

interface UpsertResult {
  inserted: string;
  updated: string;
  refs: string[];
}

/** Writes one DB batch in one transaction on one checked-out client. */
async function writeBatch(
  pool: pg.Pool,
  job: JobRef,
  distinct: number,
  rejections: readonly RowRejection[],
  payload: Buffer[],
  signal: AbortSignal | undefined,
): Promise<WrittenBatch> {
  const client = await checkoutClient(pool);
  let broken: Error | undefined;
  let cancelling: Promise<void> | undefined;
  const guard = (work: Promise<unknown>, pid: number | undefined) => () => {
    cancelling = cancelStatement(pool, client, pid, work);
  };
  try {
    throwIfAborted(signal, job);
    let written: WrittenBatch = { inserted: 0, updated: 0, skipped: 0, references: [] };
    const begin = client.query(distinct > 0 ? BEGIN_SQL : 'BEGIN');
    const opened: unknown = await abortable(signal, begin, guard(begin, undefined));
    if (distinct > 0) {
      // A multi-statement query resolves to one result per statement; the last one holds the backend pid.
      const pid = ((opened as pg.QueryResult[]).at(-1)?.rows[0] as { pid?: number } | undefined)?.pid;
      throwIfAborted(signal, job);
      const copy = client.query(copyFrom(COPY_SQL));
      await pipeline(Readable.from(payload), copy, ...(signal ? [{ signal }] : []));
      throwIfAborted(signal, job);
      const upsert = client.query<UpsertResult>(UPSERT_SQL, [job.groupId, job.domainId, job.jobId]);
      const result = await abortable(signal, upsert, guard(upsert, pid));
      const row = result.rows[0];
      if (!row) throw new Error('the upsert returned no summary row');
      const inserted = Number(row.inserted);
      const updated = Number(row.updated);
      written = {
        inserted,
        updated,
        skipped: distinct - inserted - updated,
        // RETURNING follows the sorted input, so this sort is a near no-op pass that guarantees the order.
        references: row.refs.sort(),
      };
      throwIfAborted(signal, job);
    }
    if (rejections.length > 0) {
      const recorded = client.query(REJECTIONS_SQL, rejectionParams(job, rejections));
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

function deadlineExceeded(job: JobRef, cause: unknown): DeadlineExceededError {
  return new DeadlineExceededError('node load stopped: deadline reached', { jobId: job.jobId }, { cause });
}

/**
 * Time-ordered UUIDs (RFC 9562 version 7) for new nodes: consecutive ids land on the same primary-key
 * index pages instead of random ones. Monotonic within a process (a 12-bit counter per millisecond).
 */
class UuidV7Source {
  private random = Buffer.alloc(0);
  private offset = 0;
  private lastMs = 0;
  private counter = 0;

  next(): string {
    let ms = Date.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter += 1;
      if (this.counter > 0xfff) {
        ms += 1;
        this.counter = 0;
      }
    } else {
      this.counter = 0;
    }
    this.lastMs = ms;
    if (this.offset + 8 > this.random.length) {
      this.random = randomFillSync(Buffer.allocUnsafe(8 * 4096));
      this.offset = 0;
    }
    const r = this.random;
    const o = this.offset;
    this.offset += 8;
    const time = ms.toString(16).padStart(12, '0');
    return `${time.slice(0, 8)}-${time.slice(8)}-${HEX[0x70 | (this.counter >> 8)]}${HEX[this.counter & 0xff]}-${
      HEX[0x80 | (r[o]! & 0x3f)]
    }${HEX[r[o + 1]!]}-${HEX[r[o + 2]!]}${HEX[r[o + 3]!]}${HEX[r[o + 4]!]}${HEX[r[o + 5]!]}${HEX[r[o + 6]!]}${HEX[r[o + 7]!]}`;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
