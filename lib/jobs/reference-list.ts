import { stringify } from 'csv-stringify/sync';
import type { Config } from '../config.ts';
import { escapeCell } from '../csv/spreadsheet-escape.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { pipelineObjectUri } from '../storage/staging.ts';

/** Ids per CSV chunk written while staging a list. */
const CHUNK_IDS = 1000;

/**
 * Stages a list of reference ids as a one-column CSV (`reference_id`, one id per record, quoted when
 * needed), so a reference import goes through the same plan and load as a file: the list is read and
 * written as a stream and never travels in a state payload. Returns the number of ids written.
 */
export async function writeReferenceList(
  store: ObjectStore,
  uri: string,
  ids: AsyncIterable<string> | Iterable<string>,
): Promise<{ uri: string; count: number }> {
  let count = 0;
  async function* lines(): AsyncGenerator<string> {
    yield 'reference_id\n';
    let chunk: string[][] = [];
    for await (const id of ids) {
      // Staged lists are read as node CSV, which undoes the spreadsheet escape: escape so ids stay as given.
      chunk.push([escapeCell(id)]);
      count += 1;
      if (chunk.length >= CHUNK_IDS) {
        yield stringify(chunk, { quoted_match: /^$/ });
        chunk = [];
      }
    }
    if (chunk.length > 0) yield stringify(chunk, { quoted_match: /^$/ });
  }
  const written = await store.write(uri, lines(), { contentType: 'text/csv' });
  return { uri: written.uri, count };
}

/** Which list of a request: the references to import, or those to remove (`removeReferenceIds`). */
export type StagedListKind = 'references' | 'removals';

/** Where a job's reference list (or removal list) is staged. */
export function referenceListUri(
  config: Pick<Config, 'stagingBucket' | 'localHome' | 'localMode'>,
  jobId: string,
  list: StagedListKind = 'references',
): string {
  return pipelineObjectUri(config, 'staging', jobId, `${list}.csv`);
}

/** Stages reference and removal lists of ingested requests under each job's staging prefix. */
export function referenceStager(
  store: ObjectStore,
  config: Pick<Config, 'stagingBucket' | 'localHome' | 'localMode'>,
): (jobId: string, ids: readonly string[], list?: StagedListKind) => Promise<string> {
  return async (jobId, ids, list = 'references') =>
    (await writeReferenceList(store, referenceListUri(config, jobId, list), ids)).uri;
}
