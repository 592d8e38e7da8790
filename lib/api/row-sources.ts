import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { normalizeHeaderName } from '../csv/header.ts';
import { InvalidFileError, MatchbridgeError } from '../errors.ts';
import { boundedLines, lineTooLarge } from './bounded-lines.ts';

/** One record of an uploaded file: its fields by name, or why it is not a record. */
export type SourceRow =
  | { readonly line: number; readonly values: Readonly<Record<string, unknown>> }
  | { readonly line: number; readonly error: string };

/**
 * The records of a CSV file with a header row (names normalised as for node files), each with the physical
 * line where it starts. A record with another field count than the header is an error row.
 */
export async function* csvRows(input: Readable, maxRecordBytes: number): AsyncGenerator<SourceRow> {
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n'],
    max_record_size: maxRecordBytes,
  });
  const feeding = pipeline(input, parser);
  // Awaited below; when the loop ends first with the same failure, it must not count as unhandled meanwhile.
  feeding.catch(() => undefined);
  let header: string[] | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      // info.lines is the record's last line; only quoted fields hold line breaks.
      const line = info.lines - record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0);
      if (!header) {
        header = record.map(normalizeHeaderName);
        continue;
      }
      if (record.length !== header.length) {
        yield { line, error: `the record has ${record.length} fields, the header ${header.length}` };
        continue;
      }
      const values: Record<string, string> = {};
      for (const [i, name] of header.entries()) values[name] = record[i] ?? '';
      yield { line, values };
    }
  } catch (error) {
    // The source's own failure (a dropped read: StorageUnavailableError, transient) reaches the loop through
    // the pipeline; it says nothing about the file's content.
    if (error instanceof MatchbridgeError) throw error;
    const code = (error as { code?: string }).code ?? 'CSV_INVALID';
    // csv-parse stops at the limit too; the code is the one every reader gives a record over it.
    if (code === 'CSV_MAX_RECORD_SIZE') {
      throw lineTooLarge((error as { lines?: number }).lines ?? 0, maxRecordBytes);
    }
    throw new InvalidFileError(
      code,
      `not a readable CSV file: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  }
  await feeding;
  if (!header) throw new InvalidFileError('EMPTY_FILE', 'the file has no header row');
}

/**
 * The records of an NDJSON file: one JSON object per line; blank lines are skipped.
 *
 * @throws InvalidFileError `RECORD_TOO_LARGE` as soon as a line passes `maxRecordBytes` (see
 *   {@link boundedLines}): the file fails, as a CSV file with a record over the limit does.
 */
export async function* ndjsonRows(input: Readable, maxRecordBytes: number): AsyncGenerator<SourceRow> {
  for await (const { line, text } of boundedLines(input, maxRecordBytes)) {
    if (line === 1 && text.charCodeAt(0) === 0xfeff) {
      yield* one(text.slice(1), line);
      continue;
    }
    yield* one(text, line);
  }
}

function* one(text: string, line: number): Generator<SourceRow> {
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    yield { line, error: 'the line is not valid JSON' };
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    yield { line, error: 'the line is not a JSON object' };
    return;
  }
  yield { line, values: value as Record<string, unknown> };
}
