import { isRowRejection, parseCsvRange } from '../csv/parse-range.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { oncePerBatch } from '../jobs/load-batch.ts';
import type { BatchResult, CsvBatch, JobRef } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { eraseChunk, erasureGroups } from './erasure-repository.ts';

/** Input of one Map iteration of an erasure: the job, the list's header, and one byte range of ids. */
export interface EraseBatchInput extends JobRef {
  readonly everyGroup: boolean;
  readonly header: readonly string[];
  readonly referenceColumn: number;
  /** Ids per transaction, chosen by the plan. */
  readonly dbBatchRows: number;
  readonly batch: CsvBatch;
}

/**
 * Erases the ids of one byte range of the staged list, streaming: `dbBatchRows` ids per transaction, so
 * memory and lock time stay bounded whatever the list's size. An id that cannot be a reference (empty,
 * too long) is counted failed, and never written anywhere. A batch that completed before returns its
 * recorded result; re-running one that did not is safe (a chunk erased before finds nothing left).
 */
export function eraseBatch(
  deps: RuntimeDeps,
  input: EraseBatchInput,
  signal: AbortSignal,
): Promise<BatchResult> {
  const { batch } = input;
  const identity = { index: batch.index, key: `${batch.uri}#bytes=${batch.start}-${batch.end}` };
  return oncePerBatch(deps, input, identity, async () => {
    const { config, pool, store } = deps;
    const groups = await erasureGroups(pool, input);
    const records = parseCsvRange(await store.read(batch.uri, { start: batch.start, end: batch.end }), {
      header: input.header,
      referenceColumn: input.referenceColumn,
      firstLine: batch.firstLine,
      maxRecordBytes: config.maxRecordBytes,
      maxBlockRecords: input.dbBatchRows,
    });
    let chunk = new Set<string>();
    let read = 0;
    let failed = 0;
    let removed = 0;
    const flush = async () => {
      signal.throwIfAborted();
      const counts = await eraseChunk(pool, input, groups, [...chunk]);
      removed += Object.values(counts).reduce((sum, n) => sum + n, 0);
      chunk = new Set();
    };
    for await (const record of records) {
      if (isRowRejection(record)) {
        failed += 1;
        continue;
      }
      read += 1;
      chunk.add(record.reference);
      if (chunk.size >= input.dbBatchRows) await flush();
    }
    if (chunk.size > 0) await flush();
    logJob(input).info('erased batch', { batch: batch.index, ids: read, failed, rowsRemoved: removed });
    // Each id counts once, as processed; a repeated id in the list is erased once and counted each time.
    return {
      index: batch.index,
      status: 'SUCCEEDED',
      rows: read + failed,
      inserted: 0,
      updated: read,
      duplicates: 0,
      failed,
    };
  });
}
