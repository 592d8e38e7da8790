import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InvalidFileError } from '../errors.ts';
import type { CsvBatch, CsvPlan } from '../model/types.ts';
import { PartWriter, type WritePart } from './part-writer.ts';
import { emptyFile, RangePlanner, requireInteger } from './range-planner.ts';

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

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const GZIP_CONTENT_TYPES = new Set(['application/gzip', 'application/x-gzip']);

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
