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
 * ingest staged it and removed `sliceIds` at a time, each slice in its own short transaction. A node whose
 * data is newer than the job's as-of stays. Returns the nodes removed by this call (a run again after a
 * partial one removes only what is left).
 */
export async function removeNodes(
  deps: Pick<RuntimeDeps, 'pool' | 'store'>,
  job: JobRef,
  removals: StagedRemovals,
  sliceIds = REMOVAL_SLICE_IDS,
): Promise<number> {
  const started = Date.now();
  let removed = 0;
  let kept = 0;
  const remove = async (slice: readonly string[]) => {
    const done = await removeNodeSlice(deps.pool, job, slice);
    removed += done.removed;
    kept += done.kept;
  };
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
          await remove(slice);
          slice = [];
        }
      }
      if (slice.length > 0) await remove(slice);
    },
  );
  // Nodes kept for their newer as-of are logged, not counted in `stale`: a slice run again would count them
  // twice, and the ids of a removal are no rows of the job's total.
  logJob(job).info('removed nodes', {
    requested: removals.count,
    removed,
    keptNewer: kept,
    durationMs: Date.now() - started,
  });
  return removed;
}
