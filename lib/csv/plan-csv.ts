import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InvalidFileError } from '../errors.ts';
import type { CsvBatch, CsvPlan } from '../model/types.ts';
import { joinChunks } from './byte-slices.ts';
import { parseRecords } from './csv-options.ts';
import { type ResolvedHeader, resolveHeader } from './header.ts';
import { describeRecordFlags, RecordScanner } from './record-scanner.ts';

/** Options of {@link planCsvRanges}. */
export interface PlanCsvRangesOptions {
  /** Object the ranges refer to; copied into every batch. */
  readonly uri: string;
  /** Size of the object in bytes (from HEAD): sets the range size with `maxBatches`. */
  readonly size: number;
  /** Smallest range worth a batch, in bytes. */
  readonly splitBytes: number;
  /** Most batches in a plan. */
  readonly maxBatches: number;
  /** Longest record accepted, in bytes. */
  readonly maxRecordBytes: number;
}

/** Stores one uncompressed part of a gzip file; resolves once the whole body is stored. */
export type WritePart = (
  index: number,
  body: AsyncIterable<Buffer>,
) => Promise<{ uri: string; size: number }>;

/** Options of {@link planGzipParts}. */
export interface PlanGzipPartsOptions {
  /** The gzip object, for error details. */
  readonly uri: string;
  /** Target size of a part, in uncompressed bytes. */
  readonly splitBytes: number;
  /** Most parts; when reached, the last part takes the rest of the file. Unbounded when absent. */
  readonly maxBatches?: number;
  readonly maxRecordBytes: number;
  /** Most uncompressed bytes per compressed byte, once past {@link GZIP_RATIO_FLOOR_BYTES} (a gzip bomb). */
  readonly maxRatio: number;
  readonly writePart: WritePart;
}

/** Uncompressed bytes below which the gzip ratio is not checked: small files may compress very well. */
export const GZIP_RATIO_FLOOR_BYTES = 64 * 1024 * 1024;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const GZIP_CONTENT_TYPES = new Set(['application/gzip', 'application/x-gzip']);
/** Bytes a part body buffers ahead of its consumer before decompression waits. */
const PART_BODY_HIGH_WATER_MARK = 1024 * 1024;

/**
 * True when an object is gzip: its first bytes are the gzip magic (`1f 8b`), its name ends with `.gz`,
 * or its content type is `application/gzip` / `application/x-gzip`.
 */
export function isGzip(firstBytes: Uint8Array, fileName?: string, contentType?: string): boolean {
  if (firstBytes.length >= 2 && firstBytes[0] === GZIP_MAGIC_0 && firstBytes[1] === GZIP_MAGIC_1) return true;
  if (fileName?.toLowerCase().endsWith('.gz')) return true;
  if (contentType !== undefined) {
    const mediaType = contentType.split(';', 1)[0]!.trim().toLowerCase();
    if (GZIP_CONTENT_TYPES.has(mediaType)) return true;
  }
  return false;
}

/**
 * Plans a plain CSV object read once, sequentially: reads and resolves the header (after an optional
 * UTF-8 BOM), then cuts the data into byte ranges of about `max(splitBytes, ceil(size / maxBatches))`
 * bytes, each starting on the first byte of its first record and ending where the next range starts (the
 * last one at the end of the data). Blank lines between ranges belong to the range before. Memory is
 * bounded by one record and the batch descriptors (at most `maxBatches`).
 *
 * @throws InvalidFileError `EMPTY_FILE`, `INVALID_HEADER`, `NO_REFERENCE_COLUMN`, `DUPLICATE_COLUMN`,
 *   `EMPTY_HEADER_NAME`, `RECORD_TOO_LARGE`.
 */
export async function planCsvRanges(
  source: AsyncIterable<Buffer>,
  opts: PlanCsvRangesOptions,
): Promise<CsvPlan> {
  requireInteger('size', opts.size, 0);
  requireInteger('splitBytes', opts.splitBytes, 1);
  requireInteger('maxBatches', opts.maxBatches, 1);
  requireInteger('maxRecordBytes', opts.maxRecordBytes, 1);
  const planner = new RangePlanner({
    targetBytes: Math.max(opts.splitBytes, Math.ceil(opts.size / opts.maxBatches)),
    maxRanges: opts.maxBatches,
    maxRecordBytes: opts.maxRecordBytes,
  });
  for await (const chunk of source) {
    planner.write(chunk);
    planner.takeOpened();
  }
  planner.end();
  const { header, referenceColumn } = planner.resolvedHeader;
  const batches = planner.ranges.map(
    (range, index): CsvBatch => ({
      index,
      uri: opts.uri,
      start: range.start,
      end: range.end,
      firstLine: range.firstLine,
      records: range.records,
    }),
  );
  return { header, referenceColumn, total: planner.total, batches };
}

/**
 * Plans a gzip CSV object: decompresses it once as a stream (concatenated gzip members are read as one
 * file, as zlib does), resolves the header, and writes the data as record-aligned uncompressed parts of
 * about `splitBytes` bytes through `writePart`, one part at a time, streaming each body while
 * decompressing (a part is never held in memory). Parts do not repeat the header. Each batch reads its
 * whole part (`start` 0, `end` its size); `firstLine` and `records` refer to the original file.
 *
 * @throws InvalidFileError `EMPTY_FILE`, `FILE_TRUNCATED` (the gzip data ends early), `CORRUPT_GZIP`
 *   (not gzip, or damaged), `GZIP_RATIO_EXCEEDED` (more than `maxRatio` uncompressed bytes per compressed
 *   byte read so far, past {@link GZIP_RATIO_FLOOR_BYTES}: decompression stops there), and the header and
 *   record errors of {@link planCsvRanges}.
 *   Parts written before an error are left in place.
 */
export async function planGzipParts(
  source: AsyncIterable<Buffer>,
  opts: PlanGzipPartsOptions,
): Promise<CsvPlan> {
  requireInteger('splitBytes', opts.splitBytes, 1);
  if (opts.maxBatches !== undefined) requireInteger('maxBatches', opts.maxBatches, 1);
  requireInteger('maxRecordBytes', opts.maxRecordBytes, 1);
  requireInteger('maxRatio', opts.maxRatio, 1);
  const planner = new RangePlanner({
    targetBytes: opts.splitBytes,
    maxRanges: opts.maxBatches ?? Number.POSITIVE_INFINITY,
    maxRecordBytes: opts.maxRecordBytes,
  });
  const writer = new PartWriter(opts.writePart);
  let compressedBytes = 0;
  let uncompressedBytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      compressedBytes += chunk.length;
      yield chunk;
    }
  }
  const gunzip = createGunzip();
  // Only zlib's own errors are file errors; the others (source, writePart, ours) pass through as they are.
  let zlibError: unknown;
  gunzip.on('error', (error: Error & { code?: unknown; errno?: unknown }) => {
    if (zlibError === undefined && typeof error.code === 'string' && error.code.startsWith('Z_')) {
      zlibError = error;
    }
  });
  try {
    await pipeline(counted(), gunzip, async (decompressed: AsyncIterable<Buffer>) => {
      for await (const chunk of decompressed) {
        uncompressedBytes += chunk.length;
        if (
          uncompressedBytes > GZIP_RATIO_FLOOR_BYTES &&
          uncompressedBytes > compressedBytes * opts.maxRatio
        ) {
          throw new InvalidFileError(
            'GZIP_RATIO_EXCEEDED',
            `the gzip data expands more than ${opts.maxRatio}× (${uncompressedBytes} bytes from ${compressedBytes}): refused as a decompression bomb`,
            { uri: opts.uri, maxRatio: opts.maxRatio, uncompressedBytes, compressedBytes },
          );
        }
        writer.queue.push(chunk);
        planner.write(chunk);
        await routeOpened(planner, writer, planner.routableEnd);
      }
    });
    planner.end();
    await routeOpened(planner, writer, planner.scanner.offset);
    await writer.close();
  } catch (error) {
    await writer.abort(error);
    if (zlibError === undefined || error !== zlibError) throw error;
    if (compressedBytes === 0) throw emptyFile();
    const zlibCode = (error as { code?: unknown }).code;
    if (zlibCode === 'Z_BUF_ERROR') {
      throw new InvalidFileError('FILE_TRUNCATED', 'the gzip data ends unexpectedly (truncated file)', {
        uri: opts.uri,
      });
    }
    throw new InvalidFileError(
      'CORRUPT_GZIP',
      `the file is not valid gzip: ${(error as Error).message}`,
      { uri: opts.uri, zlibCode },
      { cause: error },
    );
  }
  const { header, referenceColumn } = planner.resolvedHeader;
  const batches = writer.written.map((part, index): CsvBatch => {
    const range = planner.ranges[index]!;
    return {
      index,
      uri: part.uri,
      start: 0,
      end: part.size,
      firstLine: range.firstLine,
      records: range.records,
    };
  });
  return { header, referenceColumn, total: planner.total, batches };
}

/** Sends the bytes of the ranges opened since the last call to their parts, up to `upTo`. */
async function routeOpened(planner: RangePlanner, writer: PartWriter, upTo: number): Promise<void> {
  for (const index of planner.takeOpened()) {
    const range = planner.ranges[index]!;
    await writer.send(range.start);
    await writer.open(index);
  }
  await writer.send(upTo);
}

interface Range {
  readonly start: number;
  readonly firstLine: number;
  records: number;
  end: number;
}

interface RangePlannerOptions {
  readonly targetBytes: number;
  readonly maxRanges: number;
  readonly maxRecordBytes: number;
}

interface HeaderRecord {
  readonly line: number;
  readonly start: number;
  readonly end: number;
  readonly flags: number;
}

/**
 * The planning core shared by both planners: strips a BOM, captures and resolves the header record, and
 * opens a new range at the first record that starts after the current range reached the target size.
 */
class RangePlanner {
  readonly #targetBytes: number;
  readonly #maxRanges: number;
  readonly #maxRecordBytes: number;
  #scanner: RecordScanner | undefined;
  /** The first bytes, held until there are enough to recognise a BOM. */
  #prefix: Buffer | undefined = Buffer.alloc(0);
  #headerChunks: Buffer[] | undefined = [];
  #headerChunksStart = 0;
  #headerRecord: HeaderRecord | undefined;
  #header: ResolvedHeader | undefined;
  /** A new range opens at the start of the next record. */
  #rangeDue = true;
  #opened: number[] = [];
  readonly ranges: Range[] = [];
  total = 0;

  constructor(options: RangePlannerOptions) {
    this.#targetBytes = options.targetBytes;
    this.#maxRanges = options.maxRanges;
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  get scanner(): RecordScanner {
    if (this.#scanner === undefined) throw new Error('RangePlanner: no data scanned yet');
    return this.#scanner;
  }

  get resolvedHeader(): ResolvedHeader {
    if (this.#header === undefined) throw new Error('RangePlanner: header not resolved');
    return this.#header;
  }

  /**
   * Offset up to which every byte's range is known: all scanned bytes, except a lone `\r` starting a line
   * while a range is due (it may start the next record, or be half of a blank `\r\n` line).
   */
  get routableEnd(): number {
    if (this.#scanner === undefined) return 0;
    const scanner = this.#scanner;
    return this.#rangeDue && scanner.openIsLoneCr ? scanner.offset - 1 : scanner.offset;
  }

  /** Indexes of the ranges opened since the last call, in order. */
  takeOpened(): number[] {
    const opened = this.#opened;
    this.#opened = [];
    return opened;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#prefix !== undefined) {
      const prefix = Buffer.concat([this.#prefix, chunk]);
      if (prefix.length < UTF8_BOM.length) {
        this.#prefix = prefix;
        return;
      }
      this.#prefix = undefined;
      this.#startScanner(prefix);
      return;
    }
    this.#scan(chunk);
  }

  end(): void {
    if (this.#prefix !== undefined) {
      const prefix = this.#prefix;
      this.#prefix = undefined;
      this.#startScanner(prefix);
    }
    this.scanner.end(this.#onRecord);
    this.#resolveHeader();
    if (this.#header === undefined) throw emptyFile();
    const last = this.ranges.at(-1);
    if (last !== undefined) last.end = this.scanner.offset;
  }

  #startScanner(first: Buffer): void {
    const bom = first.length >= UTF8_BOM.length && UTF8_BOM.equals(first.subarray(0, UTF8_BOM.length));
    const startOffset = bom ? UTF8_BOM.length : 0;
    this.#scanner = new RecordScanner({ maxRecordBytes: this.#maxRecordBytes, startOffset });
    this.#headerChunksStart = startOffset;
    this.#scan(first.subarray(startOffset));
  }

  #scan(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const scanner = this.#scanner!;
    this.#headerChunks?.push(chunk);
    scanner.write(chunk, this.#onRecord);
    this.#resolveHeader();
    if (this.#rangeDue && this.#header !== undefined && scanner.hasOpenRecord) {
      this.#openRange(scanner.openStart, scanner.openLine);
    }
  }

  #onRecord = (line: number, start: number, end: number, flags: number): void => {
    if (this.#headerRecord === undefined) {
      this.#headerRecord = { line, start, end, flags };
      return;
    }
    if (this.#rangeDue) this.#openRange(start, line);
    const range = this.ranges.at(-1)!;
    range.records++;
    this.total++;
    if (end - range.start >= this.#targetBytes && this.ranges.length < this.#maxRanges) this.#rangeDue = true;
  };

  #openRange(start: number, firstLine: number): void {
    const previous = this.ranges.at(-1);
    if (previous !== undefined) previous.end = start;
    this.#opened.push(this.ranges.length);
    this.ranges.push({ start, firstLine, records: 0, end: start });
    this.#rangeDue = false;
  }

  #resolveHeader(): void {
    const record = this.#headerRecord;
    if (record === undefined || this.#header !== undefined) return;
    const bytes = joinChunks(this.#headerChunks!, this.#headerChunksStart, record.start, record.end);
    this.#headerChunks = undefined;
    if (record.flags !== 0) {
      throw new InvalidFileError('INVALID_HEADER', `the header has a ${describeRecordFlags(record.flags)}`, {
        line: record.line,
      });
    }
    if (!isUtf8(bytes)) {
      throw new InvalidFileError('INVALID_HEADER', 'the header is not valid UTF-8', { line: record.line });
    }
    const [names] = parseRecords(bytes);
    this.#header = resolveHeader(names ?? []);
  }
}

/** The part being written and the parts written, with the bytes waiting for their part. */
class PartWriter {
  readonly #writePart: WritePart;
  readonly queue = new ByteQueue();
  readonly written: { uri: string; size: number }[] = [];
  #current: OpenPart | undefined;

  constructor(writePart: WritePart) {
    this.#writePart = writePart;
  }

  /** Sends the queued bytes before `upTo` to the open part (or drops them when none is open). */
  async send(upTo: number): Promise<void> {
    const part = this.#current;
    for (const piece of this.queue.take(upTo)) {
      if (part === undefined) continue;
      // The writer stopped reading (it failed or gave up): its own outcome says why.
      if (part.body.destroyed) await part.early;
      part.bytes += piece.length;
      if (!part.body.write(piece)) {
        const drained = new AbortController();
        try {
          await Promise.race([once(part.body, 'drain', { signal: drained.signal }), part.early]);
        } finally {
          drained.abort();
        }
      }
    }
  }

  /** Ends the open part, waits until it is stored, and starts part `index`. */
  async open(index: number): Promise<void> {
    await this.close();
    const body = new PassThrough({ highWaterMark: PART_BODY_HIGH_WATER_MARK });
    // The writer sees a failed body through its own reads; without a listener the error would crash the process.
    body.on('error', () => {});
    const done = Promise.resolve().then(() => this.#writePart(index, body));
    const early = done.then(() => {
      throw new Error(`writePart(${index}) resolved before its body ended`);
    });
    early.catch(() => {});
    this.#current = { index, body, done, early, bytes: 0 };
  }

  /** Ends the open part, if any, and waits until it is stored. */
  async close(): Promise<void> {
    const part = this.#current;
    if (part === undefined) return;
    this.#current = undefined;
    part.body.end();
    const stored = await part.done;
    if (stored.size !== part.bytes) {
      throw new Error(`writePart(${part.index}) stored ${stored.size} bytes, ${part.bytes} were sent`);
    }
    this.written.push({ uri: stored.uri, size: stored.size });
  }

  /** Fails the open part's body so its writer stops, and waits for the writer to settle. */
  async abort(error: unknown): Promise<void> {
    const part = this.#current;
    if (part === undefined) return;
    this.#current = undefined;
    part.body.destroy(error instanceof Error ? error : new Error(String(error)));
    await part.done.catch(() => {});
  }
}

interface OpenPart {
  readonly index: number;
  readonly body: PassThrough;
  readonly done: Promise<{ uri: string; size: number }>;
  /** Rejects if the writer settles while the body is still being written. */
  readonly early: Promise<never>;
  bytes: number;
}

/** Bytes addressed by absolute offset, queued until they are taken. */
class ByteQueue {
  #chunks: Buffer[] = [];
  #start = 0;

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.#chunks.push(chunk);
  }

  /** Removes and returns the queued bytes before offset `upTo`, as views (no copy). */
  take(upTo: number): Buffer[] {
    const pieces: Buffer[] = [];
    while (this.#start < upTo && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const wanted = upTo - this.#start;
      if (wanted >= chunk.length) {
        pieces.push(chunk);
        this.#chunks.shift();
        this.#start += chunk.length;
      } else {
        pieces.push(chunk.subarray(0, wanted));
        this.#chunks[0] = chunk.subarray(wanted);
        this.#start = upTo;
      }
    }
    return pieces;
  }
}

function emptyFile(): InvalidFileError {
  return new InvalidFileError('EMPTY_FILE', 'the file has no header row (it is empty)');
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
}
