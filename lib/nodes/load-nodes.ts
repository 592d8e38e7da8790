import type pg from 'pg';
import type { ParsedRow, StagedBlock } from '../csv/parse-range.ts';
import { DB_BATCH_BYTES, writeInBatches } from '../db/batch-writer.ts';
import { deadlineExceeded } from '../db/cancel.ts';
import { committedDbBatches, dbBatchKey } from '../db/staged-batch.ts';
import type { BatchIdentity, JobRef, LoadCounts, RowRejection } from '../model/types.ts';
import { batchSql, PARSED_ROW_LAYOUT, type StageLayout, writeBatch } from './node-repository.ts';
import { DbBatch, stageParsedRows } from './staged-rows.ts';

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
  /** The batch these rows are, to count each DB batch once: see `DbBatchPosition` (lib/db/staged-batch.ts). */
  readonly batch?: BatchIdentity;
  /** Counts and rejects as a real load, writes no node or metadata (see `writeStagedBatch`). */
  readonly dryRun?: boolean;
}

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

/**
 * Loads staged rows (CSV lines `line,<columns of the layout>`) into `nodes` and `node_metadata`, and
 * rejections into `import_job_errors`. Blocks are grouped into DB batches of about `dbBatchRows` rows;
 * each is one transaction (COPY into a temp table, then one statement that checks references,
 * de-duplicates and upserts), committed before `onCommitted` is called. While one DB batch is being
 * written the next one is gathered, so reading and the database work overlap and memory stays bounded.
 *
 * Duplicate references are resolved last-line-wins, within a DB batch and across the batches of the same
 * job however they interleave, and counted once. A node holding data of a newer as-of than the job's is
 * left as it is and its row counted stale. Re-loading a batch of the same job is idempotent.
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
  const { dbBatchRows, dbBatchBytes = DB_BATCH_BYTES, signal, onCommitted, batch, dryRun = false } = opts;
  if (!Number.isSafeInteger(dbBatchRows) || dbBatchRows < 1) {
    throw new RangeError(`dbBatchRows must be a positive integer, got ${dbBatchRows}`);
  }
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
  const sql = batchSql(layout);
  const committedBefore = batch ? await committedDbBatches(pool, job, batch) : new Set<string>();
  const counts: LoadCounts = { rows: 0, inserted: 0, updated: 0, duplicates: 0, failed: 0, stale: 0 };
  // DB batches are first written as new nodes, until one meets a reference that exists or repeats: a fresh
  // group's file then skips the upsert's de-duplication and conflict checks, a re-import tries once.
  let insertingNew = true;
  const insertNew = { failed: () => (insertingNew = false) };
  await writeInBatches(blocks, job, {
    dbBatchRows,
    dbBatchBytes,
    signal,
    newBatch: () => new DbBatch(),
    sizeOf: (block) => block.records + block.rejections.length,
    write: async (full, rowOffset) => {
      const position = batch && { batch, rowOffset, rows: full.size };
      const again = committedBefore.has(dbBatchKey(rowOffset, full.size));
      const written = await writeBatch(
        pool,
        job,
        sql,
        full,
        signal,
        position,
        again,
        dryRun,
        insertingNew ? insertNew : undefined,
      );
      counts.rows += full.records - written.bad;
      counts.failed += full.rejections.length + written.bad;
      counts.inserted += written.inserted;
      counts.updated += written.updated;
      const stale = written.stale ?? 0;
      counts.stale += stale;
      counts.duplicates += full.records - written.bad - written.inserted - written.updated - stale;
      await onCommitted?.({ references: written.references, rejections: full.rejections });
    },
  });
  return counts;
}
