import { isUtf8 } from 'node:buffer';
import type { RowRejection } from '../model/types.ts';
import { joinChunks, sliceChunks } from './byte-slices.ts';
import { parseRecords } from './csv-options.ts';
import { describeRecordFlags, RecordFlag, RecordScanner } from './record-scanner.ts';
import { escapeCell, unescapeCell } from './spreadsheet-escape.ts';

/** A row that passed validation. `line` is the physical line (1-based, header = 1) where its record starts. */
export interface ParsedRow {
  readonly line: number;
  readonly reference: string;
  /** Every other column with a non-empty cell, under its normalised header name. */
  readonly metadata: Record<string, string>;
}

/** Options of {@link parseCsvRange}. */
export interface ParseCsvRangeOptions {
  /** Normalised header names (from the plan). */
  readonly header: readonly string[];
  /** Index of `reference_id` in `header`. */
  readonly referenceColumn: number;
  /** Physical line number of the first byte of the range (a batch's `firstLine`). */
  readonly firstLine: number;
  /** Longest record accepted, in bytes (as in the plan). */
  readonly maxRecordBytes: number;
  /** Most records handed on at once (a DB batch's rows, so that short records still make small batches). */
  readonly maxBlockRecords?: number;
}

/** Longest reference id, in characters (Unicode code points), as the `nodes.reference_id` column. */
export const MAX_REFERENCE_LENGTH = 255;

/** Bytes of records handed to csv-parse at once (a chunk may hold several blocks). */
const BLOCK_BYTES = 256 * 1024;

/** The `code` of each kind of {@link RowRejection} produced by {@link parseCsvRange}. */
export const RejectionCode = {
  MISSING_REFERENCE: 'MISSING_REFERENCE',
  REFERENCE_TOO_LONG: 'REFERENCE_TOO_LONG',
  WRONG_FIELD_COUNT: 'WRONG_FIELD_COUNT',
  INVALID_UTF8: 'INVALID_UTF8',
  MALFORMED_QUOTE: 'MALFORMED_QUOTE',
} as const;

/** Tells a failed row from a parsed one. */
export function isRowRejection(item: ParsedRow | RowRejection): item is RowRejection {
  return 'code' in item;
}

/**
 * Parses the records of one byte range of a node CSV (a batch, without the header) as a stream.
 * Yields each record, in order, either as a {@link ParsedRow} or as a {@link RowRejection}:
 * - `INVALID_UTF8` when any byte of the record is not valid UTF-8 (checked on the raw bytes, exactly);
 * - `MALFORMED_QUOTE` when a quote is misplaced (see {@link RecordFlag}); csv-parse alone would read
 *   such a record leniently, or throw for the whole range on a quote left open at the end;
 * - `WRONG_FIELD_COUNT` when the record does not have one field per header column;
 * - `MISSING_REFERENCE` when the reference cell is empty or only whitespace;
 * - `REFERENCE_TOO_LONG` when it has more than {@link MAX_REFERENCE_LENGTH} characters.
 * The reference is kept exactly as written (not trimmed). Blank lines are skipped.
 *
 * Records are delimited by {@link RecordScanner} (which also gives their physical line numbers) and
 * split into fields by csv-parse, a block of whole records at a time.
 *
 * @throws InvalidFileError `RECORD_TOO_LARGE` when a record exceeds `maxRecordBytes`.
 */
export async function* parseCsvRange(
  bytes: AsyncIterable<Uint8Array>,
  opts: ParseCsvRangeOptions,
): AsyncGenerator<ParsedRow | RowRejection> {
  for await (const rows of recordBlocks(bytes, opts, (block, found, from, to) =>
    validateBlock(block, found, from, to, opts),
  )) {
    yield* rows;
  }
}

/**
 * Rows of a range ready for PostgreSQL's `COPY … (FORMAT csv)`, a block at a time: each line is the
 * record's physical line number, a comma, and the record's own fields, ending in `\n`.
 */
export interface StagedBlock {
  readonly csv: Buffer;
  /** Records in `csv`. */
  readonly records: number;
  /** Records rejected here (quoting, field count, encoding, NUL): the rest is checked in SQL. */
  readonly rejections: readonly RowRejection[];
}

/**
 * The fast path of {@link parseCsvRange} for loading: well-formed records (as many fields as the header,
 * clean quoting, valid UTF-8, no NUL, no carriage return but their line ending) pass through as their raw
 * bytes, so PostgreSQL's COPY parses their fields; only the other records are parsed here, and become
 * rejections with the same codes as {@link parseCsvRange} — or, when valid after all, lines re-encoded
 * with every field quoted. The reference checks (missing, too long) are left to the SQL that reads the
 * staged rows, so they must mirror {@link parseCsvRange}'s.
 */
export async function* stageCsvRange(
  bytes: AsyncIterable<Uint8Array>,
  opts: ParseCsvRangeOptions,
): AsyncGenerator<StagedBlock> {
  yield* recordBlocks(bytes, opts, (block, found, from, to) => stageBlock(block, found, from, to, opts));
}

/** Drives the scanner over the range and hands its records to `handle`, a block of whole records at a time. */
async function* recordBlocks<T>(
  bytes: AsyncIterable<Uint8Array>,
  opts: ParseCsvRangeOptions,
  handle: (block: Buffer, found: FoundRecords, from: number, to: number) => T,
): AsyncGenerator<T> {
  const { header, referenceColumn } = opts;
  if (header.length === 0) throw new RangeError('header must name at least one column');
  if (!Number.isInteger(referenceColumn) || referenceColumn < 0 || referenceColumn >= header.length) {
    throw new RangeError(`referenceColumn must index the header, got ${referenceColumn}`);
  }
  const scanner = new RecordScanner({ maxRecordBytes: opts.maxRecordBytes, firstLine: opts.firstLine });
  const found = new FoundRecords();
  // Bytes of the line in progress (from `carryStart`), kept until its record ends.
  let carry: Uint8Array[] = [];
  let carryStart = 0;
  for await (const chunk of bytes) {
    if (chunk.length === 0) continue;
    carry.push(chunk);
    scanner.write(chunk, found.sink);
    yield* foundBlocks(carry, carryStart, found, opts.maxBlockRecords ?? Number.MAX_SAFE_INTEGER, handle);
    found.clear();
    if (scanner.openStart > carryStart) {
      carry = sliceChunks(carry, carryStart, scanner.openStart, scanner.offset);
      carryStart = scanner.openStart;
    }
  }
  scanner.end(found.sink);
  yield* foundBlocks(carry, carryStart, found, opts.maxBlockRecords ?? Number.MAX_SAFE_INTEGER, handle);
}

/**
 * The records found, a block of at most about {@link BLOCK_BYTES} at a time, so that a large chunk does
 * not turn into one large array of rows.
 */
function* foundBlocks<T>(
  chunks: readonly Uint8Array[],
  chunksStart: number,
  found: FoundRecords,
  maxRecords: number,
  handle: (block: Buffer, found: FoundRecords, from: number, to: number) => T,
): Generator<T> {
  let from = 0;
  while (from < found.count) {
    const blockStart = found.starts[from]!;
    let to = from + 1;
    while (to < found.count && to - from < maxRecords && found.ends[to]! - blockStart <= BLOCK_BYTES) to++;
    yield handle(joinChunks(chunks, chunksStart, blockStart, found.ends[to - 1]!), found, from, to);
    from = to;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const COMMA_BYTE = 0x2c;

/** Rejection code of a row holding a NUL character, which PostgreSQL text cannot store. */
export const NUL_CHARACTER = 'NUL_CHARACTER';

function stageBlock(
  block: Buffer,
  found: FoundRecords,
  from: number,
  to: number,
  opts: ParseCsvRangeOptions,
): StagedBlock {
  const columns = opts.header.length;
  const blockStart = found.starts[from]!;
  const blockIsUtf8 = isUtf8(block);
  const blockHasNul = block.indexOf(NUL) >= 0;
  // Clean records are copied into `out`, each gaining its line number and a comma (at most 17 bytes);
  // re-encoded rows go in pieces of their own between the slices of `out`.
  const out = Buffer.allocUnsafe(block.length + (to - from) * 17);
  const pieces: Buffer[] = [];
  let mark = 0;
  let length = 0;
  let records = 0;
  const rejections: RowRejection[] = [];
  for (let k = from; k < to; k++) {
    const start = found.starts[k]! - blockStart;
    const recordEnd = found.ends[k]! - blockStart;
    let end = recordEnd;
    if (end > start && block[end - 1] === LF) end -= end - 2 >= start && block[end - 2] === CR ? 2 : 1;
    const body = block.subarray(start, end);
    const clean =
      found.flags[k] === 0 &&
      found.fields[k] === columns &&
      body.indexOf(CR) < 0 &&
      (!blockHasNul || body.indexOf(NUL) < 0) &&
      (blockIsUtf8 || isUtf8(body));
    if (clean) {
      length += out.write(String(found.lines[k]), length, 'latin1');
      out[length++] = COMMA_BYTE;
      length += body.copy(out, length);
      out[length++] = LF;
      records++;
      continue;
    }
    for (const row of validateBlock(block.subarray(start, recordEnd), found, k, k + 1, opts)) {
      if ('code' in row) {
        rejections.push(row);
      } else if (hasNul(row)) {
        rejections.push({
          line: row.line,
          reference: row.reference.includes('\0') ? null : row.reference,
          code: NUL_CHARACTER,
          reason: 'the row contains a NUL character, which cannot be stored',
        });
      } else {
        pieces.push(out.subarray(mark, length), Buffer.from(`${row.line},${quotedFields(row, opts)}\n`));
        mark = length;
        records++;
      }
    }
  }
  pieces.push(out.subarray(mark, length));
  return { csv: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), records, rejections };
}

function hasNul(row: ParsedRow): boolean {
  if (row.reference.includes('\0')) return true;
  for (const key in row.metadata) if (row.metadata[key]!.includes('\0')) return true;
  return false;
}

/** The row's fields in header order, every one quoted (so CR, commas and quotes survive COPY). */
function quotedFields(row: ParsedRow, opts: ParseCsvRangeOptions): string {
  return opts.header
    .map((name, c) => {
      const value = c === opts.referenceColumn ? row.reference : (row.metadata[name] ?? '');
      // Escaped again: the database undoes the escape of every staged cell, raw or re-written.
      return `"${escapeCell(value).replaceAll('"', '""')}"`;
    })
    .join(',');
}

/** The records the scanner found in the current chunk, as parallel arrays (no object per record). */
class FoundRecords {
  readonly lines: number[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly flags: number[] = [];
  readonly fields: number[] = [];
  count = 0;

  readonly sink = (line: number, start: number, end: number, flags: number, fields: number): void => {
    this.lines.push(line);
    this.starts.push(start);
    this.ends.push(end);
    this.flags.push(flags);
    this.fields.push(fields);
    this.count++;
  };

  clear(): void {
    this.lines.length = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.flags.length = 0;
    this.fields.length = 0;
    this.count = 0;
  }
}

/** Splits and validates a block holding exactly the records `[from, to)` of `found`. */
function validateBlock(
  block: Buffer,
  found: FoundRecords,
  from: number,
  to: number,
  opts: ParseCsvRangeOptions,
): (ParsedRow | RowRejection)[] {
  const { header, referenceColumn } = opts;
  const columns = header.length;
  const blockStart = found.starts[from]!;
  // Only the last record of a range can end inside quotes; csv-parse would throw for the whole block, so
  // that record is rejected without being split.
  const unclosed = (found.flags[to - 1]! & RecordFlag.UNCLOSED_QUOTE) !== 0;
  const parsedTo = unclosed ? to - 1 : to;
  const parsed =
    parsedTo > from ? parseRecords(block.subarray(0, found.ends[parsedTo - 1]! - blockStart)) : [];
  if (parsed.length !== parsedTo - from) {
    throw new Error(
      `csv-parse found ${parsed.length} records where the scanner found ${parsedTo - from} ` +
        `(lines ${found.lines[from]}–${found.lines[to - 1]})`,
    );
  }
  const blockIsUtf8 = isUtf8(block);
  const out: (ParsedRow | RowRejection)[] = [];
  for (let k = from; k < parsedTo; k++) {
    const fields = parsed[k - from]!;
    const line = found.lines[k]!;
    const flags = found.flags[k]!;
    const raw = fields[referenceColumn];
    const reference = raw === undefined ? undefined : unescapeCell(raw);
    if (!blockIsUtf8 && !isUtf8(block.subarray(found.starts[k]! - blockStart, found.ends[k]! - blockStart))) {
      out.push(reject(line, reference, RejectionCode.INVALID_UTF8, 'the row is not valid UTF-8'));
    } else if (flags !== 0) {
      out.push(
        reject(
          line,
          reference,
          RejectionCode.MALFORMED_QUOTE,
          `malformed quoting: ${describeRecordFlags(flags)}`,
        ),
      );
    } else if (fields.length !== columns) {
      out.push(
        reject(
          line,
          reference,
          RejectionCode.WRONG_FIELD_COUNT,
          `expected ${columns} fields, got ${fields.length}`,
        ),
      );
    } else if (reference === undefined || isBlank(reference)) {
      out.push(reject(line, reference, RejectionCode.MISSING_REFERENCE, 'reference_id is empty'));
    } else if (isTooLong(reference)) {
      const length = codePointCount(reference);
      out.push(
        reject(
          line,
          reference,
          RejectionCode.REFERENCE_TOO_LONG,
          `reference_id has ${length} characters, more than ${MAX_REFERENCE_LENGTH}`,
        ),
      );
    } else {
      const metadata: Record<string, string> = {};
      for (let c = 0; c < columns; c++) {
        const value = fields[c]!;
        if (c !== referenceColumn && value !== '') metadata[header[c]!] = unescapeCell(value);
      }
      out.push({ line, reference, metadata });
    }
  }
  if (unclosed) {
    const flags = found.flags[to - 1]!;
    out.push({
      line: found.lines[to - 1]!,
      reference: null,
      reason: `malformed quoting: ${describeRecordFlags(flags)}`,
      code: RejectionCode.MALFORMED_QUOTE,
    });
  }
  return out;
}

/** A rejection naming the reference when there is a usable one (not blank, not too long). */
function reject(line: number, reference: string | undefined, code: string, reason: string): RowRejection {
  const usable = reference !== undefined && !isBlank(reference) && !isTooLong(reference);
  return { line, reference: usable ? reference : null, reason, code };
}

function isBlank(value: string): boolean {
  if (value.length === 0) return true;
  const first = value.charCodeAt(0);
  // Fast path: a visible ASCII first character means not blank.
  if (first > 0x20 && first < 0x7f) return false;
  return value.trim().length === 0;
}

/** More than {@link MAX_REFERENCE_LENGTH} code points (a string has at least as many UTF-16 units). */
function isTooLong(value: string): boolean {
  return value.length > MAX_REFERENCE_LENGTH && codePointCount(value) > MAX_REFERENCE_LENGTH;
}

function codePointCount(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}
