import { stringify } from 'csv-stringify/sync';
import { escapeCell } from '../csv/spreadsheet-escape.ts';
import { query } from '../db/query.ts';
import { InvalidFileError } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { ndjsonRows, type SourceRow } from './row-sources.ts';

/** Most distinct fields an NDJSON node file may use (they become the CSV's columns). */
export const MAX_NODE_FIELDS = 1000;

/**
 * NDJSON line n is CSV line n + 1 (the header is line 1): the node loader reports CSV lines, and the API
 * shows them as NDJSON lines by this offset.
 */
export const NDJSON_LINE_OFFSET = 1;

/** Rejected lines recorded per statement. */
const ERROR_BATCH = 1000;

function cell(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // A line break would make the record span CSV lines and shift every later line number.
  if (/[\r\n]/.test(text)) return undefined;
  // The node loader undoes the spreadsheet escape of CSV cells: escaped here, every value arrives as sent.
  return escapeCell(text);
}

/**
 * One CSV record per NDJSON record. Empty cells are quoted: a record of empty cells only (`{"reference_id":""}`
 * in a file with no other field) would otherwise be a blank line, which the loader skips as no record at
 * all, and the row would vanish from the job's counts. Quoted, it is a record with a missing reference.
 */
const record = (cells: readonly string[]): string => stringify([cells], { quoted_empty: true });

/**
 * Converts an NDJSON node file into the node CSV contract (a `reference_id` column, every other field a
 * metadata column), streaming, in two passes: the first collects the field names, the second writes one CSV
 * line per NDJSON line. A line that is not an object, or holds a value with a line break, is recorded as a
 * failed row here and written as an empty record (which the loader counts as failed without overwriting the
 * recorded reason), so line numbers stay aligned and every NDJSON record is one record of the job's count.
 * Returns the staged CSV's URI.
 */
export async function convertNodesNdjson(
  deps: RuntimeDeps,
  job: { readonly jobId: string; readonly domainId: string; readonly uri: string },
): Promise<string> {
  const { store, config, pool } = deps;
  const fields = new Set<string>();
  for await (const row of ndjsonRows(await store.read(job.uri), config.maxRecordBytes)) {
    if (!('values' in row)) continue;
    for (const name of Object.keys(row.values)) {
      if (name === 'reference_id') continue;
      fields.add(name);
      if (fields.size > MAX_NODE_FIELDS) {
        throw new InvalidFileError(
          'TOO_MANY_FIELDS',
          `the file uses more than ${MAX_NODE_FIELDS} distinct fields`,
        );
      }
    }
  }
  const columns = ['reference_id', ...fields];
  const empty = record(columns.map(() => ''));
  let pending: { line: number; reference: string | null; reason: string }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await query(
      pool,
      `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason, errors)
       SELECT $1, $2, r.line, r.reference, 'INVALID_ROW', r.reason, ARRAY[r.reason]
       FROM unnest($3::bigint[], $4::text[], $5::text[]) AS r (line, reference, reason)
       ON CONFLICT (job_id, line) DO NOTHING`,
      [
        job.jobId,
        job.domainId,
        batch.map((e) => e.line),
        batch.map((e) => e.reference),
        batch.map((e) => e.reason),
      ],
    );
  };
  async function* csv(rows: AsyncIterable<SourceRow>): AsyncGenerator<string> {
    yield stringify([columns]);
    let next = 1;
    for await (const row of rows) {
      // Blank NDJSON lines stay blank CSV lines (skipped by the loader, counted as lines).
      for (; next < row.line; next += 1) yield '\n';
      next = row.line + 1;
      const line = row.line + NDJSON_LINE_OFFSET;
      if ('error' in row) {
        pending.push({ line, reference: null, reason: row.error });
      } else {
        const cells = columns.map((name) => cell(row.values[name]));
        if (cells.every((c): c is string => c !== undefined)) {
          yield record(cells);
          continue;
        }
        const reference =
          typeof row.values.reference_id === 'string' ? row.values.reference_id.slice(0, 255) : null;
        pending.push({
          line,
          reference,
          reason: 'a value holds a line break, which node imports do not take',
        });
      }
      yield empty;
      if (pending.length >= ERROR_BATCH) await flush();
    }
    await flush();
  }
  const uri = pipelineObjectUri(config, 'staging', job.jobId, 'nodes.csv');
  await store.write(uri, csv(ndjsonRows(await store.read(job.uri), config.maxRecordBytes)), {
    contentType: 'text/csv',
  });
  return uri;
}
