import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { ApiRequestError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/** Ids of a CSV body: a header row naming `reference_id`, then one record per id. Streamed. */
async function* csvIds(store: ObjectStore, uri: string): AsyncGenerator<string> {
  const records = (await store.read(uri)).pipe(parseCsv({ bom: true, relax_column_count: true }));
  let column = -1;
  for await (const record of records as AsyncIterable<string[]>) {
    if (column < 0) {
      column = record.findIndex(
        (name) =>
          name
            .trim()
            .toLowerCase()
            .replace(/[\s-]+/g, '_') === 'reference_id',
      );
      if (column < 0)
        throw new ApiRequestError(400, 'INVALID_REQUEST', 'the CSV header names no reference_id');
      continue;
    }
    const id = record[column];
    if (id !== undefined && id !== '') yield id;
  }
}

/** Ids of an NDJSON body: each non-blank line a JSON string or an object with `reference_id`. Streamed. */
async function* ndjsonIds(store: ObjectStore, uri: string): AsyncGenerator<string> {
  const lines = createInterface({ input: await store.read(uri), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiRequestError(400, 'INVALID_REQUEST', `line ${line}: not JSON`);
    }
    const id =
      typeof value === 'string'
        ? value
        : typeof value === 'object' && value !== null && 'reference_id' in value
          ? (value as { reference_id: unknown }).reference_id
          : undefined;
    if (typeof id !== 'string') {
      throw new ApiRequestError(
        400,
        'INVALID_REQUEST',
        `line ${line}: expected a string or {"reference_id": "…"}`,
      );
    }
    yield id;
  }
}

/** The ids of an erasure body staged at `uri` (`text/csv` or `application/x-ndjson`), as a stream. */
export function erasureBodyIds(
  store: ObjectStore,
  uri: string,
  format: 'csv' | 'ndjson',
): AsyncGenerator<string> {
  return format === 'csv' ? csvIds(store, uri) : ndjsonIds(store, uri);
}
