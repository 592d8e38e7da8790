import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BatchIdentity, JobRef, RowRejection } from '../model/types.ts';
import { abortable, cancelStatement, deadlineExceeded, throwIfAborted } from './cancel.ts';
import { isDeadlock, isUniqueViolation, mapDatabaseError } from './errors.ts';
import { checkoutClient, releaseClient, rollback } from './pool.ts';
import { query } from './query.ts';

/**
 * Sort and hash space for the upsert's sort and joins, so that a DB batch never spills to disk. The temp
 * table has no statistics and the planner overestimates it: it would JIT-compile the statement (which costs
 * more than it saves) and sort both sides of each join for a merge join, where hashing is cheaper.
 */
export const WORK_MEM = '64MB';

/** Kills a session left idle inside a load transaction (a frozen Lambda holding row locks). */
export const IDLE_IN_TRANSACTION_TIMEOUT = '60s';

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
  /** Rows not written because their target holds data of a newer as-of (another job's). */
  readonly stale?: number;
  /** Staged rows the upsert rejected (and recorded as rejections), beside the batch's own rejections. */
  readonly bad?: number;
}

/**
 * Records a DB batch's counts, or returns those recorded when the same DB batch committed before (the
 * no-op update makes RETURNING give the stored row). Only a record inserted now advances the job's progress
 * (`$8` rows, `$9` failed, `$6` + `$7` written, `$10` stale): a DB batch committed again never counts twice. Last in its
 * transaction, so the job row stays locked only until the commit.
 */
const RECORD_DB_BATCH_SQL = `WITH rec AS (
  INSERT INTO import_job_db_batches AS r
    (job_id, batch_index, batch_key, row_offset, row_count, inserted, updated, stale)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $10)
  ON CONFLICT (job_id, batch_index, batch_key, row_offset, row_count) DO UPDATE SET inserted = r.inserted
  RETURNING inserted, updated, stale, r.xmax = 0 AS fresh
), advanced AS (
  UPDATE import_jobs SET rows_done = rows_done + $8, rows_failed = rows_failed + $9,
         rows_written = rows_written + $6 + $7, rows_stale = rows_stale + $10,
         progress_seq = progress_seq + 1, progress_at = clock_timestamp()
  WHERE id = $1 AND (SELECT fresh FROM rec)
)
SELECT inserted, updated, stale FROM rec`;

/** Records rejections: `$1` job, `$2` domain, then the arrays of {@link rejectionParams}. */
const REJECTIONS_SQL = `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
SELECT $1, $2, r.line, r.reference, r.code, r.reason
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS r (line, reference, code, reason)
ON CONFLICT (job_id, line) DO NOTHING`;

/** How a DB batch first tries to write its rows as new keys: see {@link writeStagedBatch}. */
export type Optimistic<Result> =
  | {
      /** COPY of the payload straight into the target. */
      readonly copy: string;
      /** What a successful optimistic COPY wrote. */
      readonly written: Result;
      readonly onConflict: () => void;
    }
  | {
      /** A plain insert of the staged rows, with the upsert's parameters and summary row. */
      readonly insert: string;
      readonly onConflict: () => void;
    };

/**
 * One DB batch as one transaction on one checked-out client: `begin` (which creates the temp table and
 * ends by selecting the backend pid), COPY of `payload`, the `upsert` statement whose single summary row
 * `summarize` reads, then the rejections. With nothing staged only the rejections are written. On abort the
 * running statement is cancelled and the transaction rolled back; a client whose rollback failed is closed.
 * With `optimistic`, the rows are first written as new keys under a savepoint: the payload copied with its
 * own COPY straight into the target, or staged and written by a plain insert statement; should that fail with
 * a unique violation (a key exists, or repeats in the batch) or a deadlock (a concurrent job inserts the same
 * new keys in another order), the savepoint is rolled back and the staged rows upserted as usual.
 * With `position`, the counts are recorded, or those of an earlier commit of the same DB batch returned, and a
 * newly recorded DB batch advances its job's progress (rows, failed rows) in the same transaction.
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
    readonly optimistic?: Optimistic<Result> | undefined;
    readonly params: readonly unknown[];
    readonly summarize: (row: Row) => Result;
    readonly nothingStaged: Result;
    readonly rejections: readonly RowRejection[];
    readonly signal: AbortSignal | undefined;
    readonly position?: DbBatchPosition | undefined;
    /**
     * A dry run: the same statements, then the target writes are rolled back to a savepoint taken just
     * before them; the rejections the statements recorded for the staged lines (of temp table `stageTable`)
     * are kept, with the counts and the DB-batch record, so the job's reports are those of a real run.
     */
    readonly dryRun?: { readonly stageTable: string } | undefined;
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
    let pid: number | undefined;
    if (staged) {
      // A multi-statement query resolves to one result per statement; the last one holds the backend pid.
      pid = ((opened as pg.QueryResult[]).at(-1)?.rows[0] as { pid?: number } | undefined)?.pid;
      throwIfAborted(signal, job);
      // A COPY into the target can wait on a concurrent writer's row lock: an abort cancels it on the server.
      const copyPayload = (sql: string) => {
        const copying = pipeline(Readable.from(batch.payload), client.query(copyFrom(sql)));
        return abortable(signal, copying, guard(copying, pid));
      };
      // A dry run's savepoint comes right before the target writes: COPY … FREEZE into the temp table must
      // run in the subtransaction that created it.
      const dryRunSavepoint = batch.dryRun ? 'SAVEPOINT mb_dry_run' : undefined;
      const { optimistic } = batch;
      const upsert = async (sql: string) => {
        throwIfAborted(signal, job);
        const running = client.query<pg.QueryResultRow & Row>(sql, [...batch.params]);
        const row = (await abortable(signal, running, guard(running, pid))).rows[0];
        if (!row) throw new Error('the upsert returned no summary row');
        return batch.summarize(row);
      };
      // Runs `write` under a savepoint; undefined when it met a key that exists (the savepoint rolled back).
      const asNewKeys = async <T>(
        write: () => Promise<T>,
        releaseDryRun: boolean,
      ): Promise<T | undefined> => {
        await client.query('SAVEPOINT mb_optimistic');
        try {
          const done = await write();
          await client.query('RELEASE SAVEPOINT mb_optimistic');
          return done;
        } catch (err) {
          if (!(isUniqueViolation(err) || isDeadlock(err)) || signal?.aborted) throw err;
          optimistic?.onConflict();
          await client.query(
            `ROLLBACK TO SAVEPOINT mb_optimistic; RELEASE SAVEPOINT mb_optimistic${
              releaseDryRun ? '; RELEASE SAVEPOINT mb_dry_run' : ''
            }`,
          );
          return undefined;
        }
      };
      let copied: Result | undefined;
      if (optimistic && 'copy' in optimistic) {
        if (dryRunSavepoint) await client.query(dryRunSavepoint);
        // Back in the transaction that created the temp table on a conflict: COPY … FREEZE needs that.
        copied = await asNewKeys(
          () => copyPayload(optimistic.copy).then(() => optimistic.written),
          dryRunSavepoint !== undefined,
        );
      }
      if (copied) {
        written = copied;
      } else {
        await copyPayload(batch.copy);
        if (dryRunSavepoint) await client.query(dryRunSavepoint);
        const inserted =
          optimistic && 'insert' in optimistic
            ? await asNewKeys(() => upsert(optimistic.insert), false)
            : undefined;
        written = inserted ?? (await upsert(batch.upsert));
      }
      if (batch.dryRun) await undoTargetWrites(client, job, batch.dryRun.stageTable);
      throwIfAborted(signal, job);
    }
    if (batch.rejections.length > 0) {
      const recorded = client.query(REJECTIONS_SQL, rejectionParams(job, batch.rejections));
      await abortable(signal, recorded, guard(recorded, undefined));
      throwIfAborted(signal, job);
    }
    if (batch.position) {
      const failed = batch.rejections.length + (written.bad ?? 0);
      const recording = client.query<{ inserted: string; updated: string; stale: string }>(
        RECORD_DB_BATCH_SQL,
        dbBatchRecordParams(job, batch.position, written, failed),
      );
      // It may wait for the job row, which a concurrent DB batch of the job holds until its commit.
      const recorded = (await abortable(signal, recording, guard(recording, pid))).rows[0];
      if (!recorded) throw new Error('the DB batch record returned no row');
      written = {
        ...written,
        inserted: Number(recorded.inserted),
        updated: Number(recorded.updated),
        stale: Number(recorded.stale),
      };
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

/**
 * Rolls a dry run's DB batch back to its savepoint, keeping the rejections its statements recorded for the
 * lines staged in `stageTable` (created before the savepoint, so it survives).
 */
async function undoTargetWrites(client: pg.PoolClient, job: JobRef, stageTable: string): Promise<void> {
  const { rows } = await client.query<RowRejection>(
    `SELECT line::float8 AS line, reference, code, reason FROM import_job_errors
     WHERE job_id = $1 AND line IN (SELECT line FROM ${stageTable})`,
    [job.jobId],
  );
  await client.query('ROLLBACK TO SAVEPOINT mb_dry_run');
  if (rows.length > 0) await client.query(REJECTIONS_SQL, rejectionParams(job, rows));
}

/** The parameters of {@link RECORD_DB_BATCH_SQL}. */
function dbBatchRecordParams(
  job: JobRef,
  position: DbBatchPosition,
  counts: WrittenCounts,
  failed: number,
): unknown[] {
  const { batch, rowOffset, rows } = position;
  const { inserted, updated, stale = 0 } = counts;
  return [job.jobId, batch.index, batch.key, rowOffset, rows, inserted, updated, rows, failed, stale];
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

export const dbBatchKey = (rowOffset: number | string, rows: number | string) => `${rowOffset}+${rows}`;

/** The DB batches of `batch` that committed before (the batch runs again), as {@link dbBatchKey}s. */
export async function committedDbBatches(
  pool: pg.Pool,
  job: JobRef,
  batch: BatchIdentity,
): Promise<Set<string>> {
  const { rows } = await query<{ row_offset: string; row_count: string }>(
    pool,
    `SELECT row_offset, row_count FROM import_job_db_batches
     WHERE job_id = $1 AND batch_index = $2 AND batch_key = $3`,
    [job.jobId, batch.index, batch.key],
  );
  return new Set(rows.map((row) => dbBatchKey(row.row_offset, row.row_count)));
}
