import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import {
  type ErasureScope,
  erasedAmong,
  exportFilesPage,
  finishedJobsPage,
  forgetExportFile,
} from './erasure-repository.ts';

/** Records looked up against the erased ids at once, and jobs or exports read per page. */
const LOOKUP_ROWS = 1000;
const PAGE_ROWS = 100;
const NO_ID = '00000000-0000-0000-0000-000000000000';

/** What the object pass did: reports rewritten, objects deleted. */
export interface ObjectCounts {
  rewritten: number;
  deleted: number;
}

/**
 * Removes the erased ids from the objects Matchbridge wrote in the scope (docs/decisions.md says why each
 * is rewritten or deleted):
 * - the success and failed lists of finished node imports are rewritten without the erased ids: they are
 *   the complete lists status messages point at, and the other members' outcomes stay readable;
 * - the staged copies of finished jobs (reference lists, decompressed parts, per-batch success files) are
 *   deleted: nothing reads them once a job has ended;
 * - export files are deleted: they are deliveries a consumer has taken, in several formats, and the next
 *   export writes them afresh.
 */
export async function eraseObjects(deps: RuntimeDeps, scope: ErasureScope): Promise<ObjectCounts> {
  const counts: ObjectCounts = { rewritten: 0, deleted: 0 };
  const { pool, store, config } = deps;
  for (let after = NO_ID; ; ) {
    const jobs = await finishedJobsPage(pool, scope, after, PAGE_ROWS);
    for (const job of jobs) {
      for (const report of job.reports) {
        if (await rewriteWithout(deps, scope.jobId, report)) counts.rewritten += 1;
      }
      counts.deleted += await store.remove(pipelineObjectUri(config, 'staging', job.jobId));
    }
    if (jobs.length < PAGE_ROWS) break;
    after = jobs.at(-1)?.jobId ?? after;
  }
  for (let after = NO_ID; ; ) {
    const files = await exportFilesPage(pool, scope, after, PAGE_ROWS);
    for (const file of files) {
      counts.deleted += await store.remove(file.uri);
      await forgetExportFile(pool, file.id);
    }
    if (files.length < PAGE_ROWS) break;
    after = files.at(-1)?.id ?? after;
  }
  return counts;
}

/** The records of a report CSV after its header, in chunks, with the index of its reference column. */
async function* reportChunks(
  deps: RuntimeDeps,
  uri: string,
): AsyncGenerator<{ header: string[]; column: number; records: string[][] }> {
  const parser = (await deps.store.read(uri)).pipe(parse({ relax_column_count: true }));
  let header: string[] | undefined;
  let column = -1;
  let records: string[][] = [];
  for await (const record of parser as AsyncIterable<string[]>) {
    if (!header) {
      header = record;
      column = header.findIndex((name) => name === 'reference_id' || name === 'reference');
      continue;
    }
    records.push(record);
    if (records.length >= LOOKUP_ROWS) {
      yield { header, column, records };
      records = [];
    }
  }
  if (header) yield { header, column, records };
}

/** The records of a chunk that name no erased id. */
async function keptRecords(
  deps: RuntimeDeps,
  erasureJobId: string,
  column: number,
  records: readonly string[][],
): Promise<{ kept: string[][]; dropped: number }> {
  const erased = await erasedAmong(
    deps.pool,
    erasureJobId,
    records.map((r) => r[column] ?? ''),
  );
  const kept = records.filter((r) => !erased.has(r[column] ?? ''));
  return { kept, dropped: records.length - kept.length };
}

/** Rewrites a report without the records naming an erased id; false when it named none (left as it is). */
async function rewriteWithout(deps: RuntimeDeps, erasureJobId: string, uri: string): Promise<boolean> {
  if (!(await deps.store.exists(uri))) return false;
  // A first pass only reads: most reports name no erased id and are not written at all.
  let names = false;
  for await (const { column, records } of reportChunks(deps, uri)) {
    if (column < 0) return false;
    if ((await keptRecords(deps, erasureJobId, column, records)).dropped > 0) {
      names = true;
      break;
    }
  }
  if (!names) return false;
  const lines = async function* (): AsyncGenerator<string> {
    let first = true;
    for await (const { header, column, records } of reportChunks(deps, uri)) {
      if (first) yield stringify([header]);
      first = false;
      const { kept } = await keptRecords(deps, erasureJobId, column, records);
      if (kept.length > 0) yield stringify(kept);
    }
  };
  await deps.store.write(uri, lines(), { contentType: 'text/csv' });
  return true;
}
