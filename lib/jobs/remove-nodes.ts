import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { unescapeCell } from '../csv/spreadsheet-escape.ts';
import type { JobRef, StagedRemovals } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import type { RuntimeDeps } from './deps.ts';
import { removeNodeSlice } from './removal-repository.ts';

/** Ids per removal transaction: short transactions, few round trips. */
export const REMOVAL_SLICE_IDS = 2000;

/**
 * Removes a job's staged removals (`removeReferenceIds`) from its group: the list is streamed from where
 * ingest staged it and removed `sliceIds` at a time, each slice in its own short transaction. Returns the
 * nodes removed by this call (a run again after a partial one removes only what is left).
 */
export async function removeNodes(
  deps: Pick<RuntimeDeps, 'pool' | 'store'>,
  job: JobRef,
  removals: StagedRemovals,
  sliceIds = REMOVAL_SLICE_IDS,
): Promise<number> {
  const started = Date.now();
  let removed = 0;
  await pipeline(
    await deps.store.read(removals.uri),
    parse({ from_line: 2, bom: true }),
    async (records: AsyncIterable<string[]>) => {
      let slice: string[] = [];
      for await (const record of records) {
        const id = unescapeCell(record[0] ?? '');
        if (id === '') continue;
        slice.push(id);
        if (slice.length >= sliceIds) {
          removed += await removeNodeSlice(deps.pool, job, slice);
          slice = [];
        }
      }
      if (slice.length > 0) removed += await removeNodeSlice(deps.pool, job, slice);
    },
  );
  logJob(job).info('removed nodes', { requested: removals.count, removed, durationMs: Date.now() - started });
  return removed;
}
