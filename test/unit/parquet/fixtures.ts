/**
 * Parquet files for the tests, written by two independent writers:
 * - hyparquet-writer (JavaScript): SNAPPY and UNCOMPRESSED built in; GZIP and ZSTD pages are compressed
 *   with node:zlib (the zlib and libzstd reference libraries), which hyparquet-writer accepts as compressors;
 * - parquet-wasm (arrow-rs, the Rust Parquet writer, in WebAssembly): every codec natively, dictionary
 *   pages, data pages v2, and the layout of a different implementation.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { type Table, tableToIPC } from 'apache-arrow';
import { type ColumnChunk, type FileMetaData, parquetMetadata } from 'hyparquet';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import * as parquetWasm from 'parquet-wasm';
import type { MatchRow, MatchRowRejection, MatchRowRun } from '../../../lib/matches/match-rows.ts';
import { readMatchRuns } from '../../../lib/parquet/read-matches.ts';
import type { ByteRange, ObjectStore } from '../../../lib/storage/object-store.ts';
import { createObjectStore } from '../../../lib/storage/store.ts';

export type Codec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'ZSTD';
export const CODECS: readonly Codec[] = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD'];
/** Codecs beyond the required four that the reader supports too (arrow-rs writes them). */
export const MORE_CODECS = ['BROTLI', 'LZ4_RAW'] as const;

/** The store of local mode; S3 is never reached in these tests. */
export function localStore(): ObjectStore {
  return createObjectStore({
    s3: () => {
      throw new Error('S3 is not used in unit tests');
    },
    allowLocalFiles: true,
  });
}

/** A store that records every range it serves: counted where the bytes leave the store. */
export function recordingStore(inner: ObjectStore = localStore()): {
  store: ObjectStore;
  reads: ByteRange[];
} {
  const reads: ByteRange[] = [];
  const store: ObjectStore = {
    head: (uri) => inner.head(uri),
    exists: (uri) => inner.exists(uri),
    remove: (uri) => inner.remove(uri),
    list: (folder) => inner.list(folder),
    write: (uri, body, options) => inner.write(uri, body, options),
    read: async (uri, range) => {
      const size = range ? undefined : (await inner.head(uri)).size;
      reads.push(range ?? { start: 0, end: size ?? 0 });
      return inner.read(uri, range);
    },
  };
  return { store, reads };
}

export function bytesOf(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, range) => sum + range.end - range.start, 0);
}

/** A folder of its own for a test file, removed by the returned function. */
export async function tempFolder(): Promise<{ path: (name: string) => string; remove: () => Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), 'matchbridge-parquet-'));
  return { path: (name) => join(folder, name), remove: () => rm(folder, { recursive: true, force: true }) };
}

const NODE_COMPRESSORS = {
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)),
};

/** Options of {@link writeHyparquet}. */
export interface HyparquetFileOptions {
  readonly codec?: Codec | 'LZO';
  readonly rowGroupSize?: number;
  /** Target page size in bytes (small pages give several pages per chunk, hence offset indexes). */
  readonly pageSize?: number;
  /** Write offset indexes (hyparquet-writer writes one for chunks of more than one page). Default true. */
  readonly offsetIndex?: boolean;
}

/** Writes columns with hyparquet-writer; returns the bytes written. */
export async function writeHyparquet(
  path: string,
  columns: readonly ColumnSource[],
  options: HyparquetFileOptions = {},
): Promise<Uint8Array> {
  const offsetIndex = options.offsetIndex ?? true;
  const buffer = parquetWriteBuffer({
    columnData: columns.map((column) => ({ ...column, offsetIndex })),
    codec: options.codec ?? 'SNAPPY',
    // LZO: the identity "compressor" only serves to write a file that names a codec the reader lacks.
    compressors: { ...NODE_COMPRESSORS, LZO: (input: Uint8Array) => input },
    ...(options.rowGroupSize !== undefined ? { rowGroupSize: options.rowGroupSize } : {}),
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
  });
  const bytes = new Uint8Array(buffer);
  await writeFile(path, bytes);
  return bytes;
}

/** Options of {@link writeArrowRs}. */
export interface ArrowRsFileOptions {
  readonly codec: Codec | (typeof MORE_CODECS)[number];
  readonly maxRowGroupRows: number;
  readonly dataPageV2?: boolean;
  /** Page size limit in bytes; arrow-rs checks it every 64 rows here (its write batch). */
  readonly dataPageBytes?: number;
  /** Dictionary-encode columns (arrow-rs' default). Default true. */
  readonly dictionary?: boolean;
}

/** Writes an Arrow table with parquet-wasm (arrow-rs); returns the bytes written. */
export async function writeArrowRs(
  path: string,
  table: Table,
  options: ArrowRsFileOptions,
): Promise<Uint8Array> {
  let builder = new parquetWasm.WriterPropertiesBuilder();
  if (options.dataPageBytes !== undefined) {
    builder = builder.setDataPageSizeLimit(options.dataPageBytes).setWriteBatchSize(64);
  }
  const properties = builder
    .setCompression(parquetWasm.Compression[options.codec])
    .setMaxRowGroupSize(options.maxRowGroupRows)
    .setWriterVersion(options.dataPageV2 ? parquetWasm.WriterVersion.V2 : parquetWasm.WriterVersion.V1)
    .setDictionaryEnabled(options.dictionary ?? true)
    .build();
  const bytes = parquetWasm.writeParquet(
    parquetWasm.Table.fromIPCStream(tableToIPC(table, 'stream')),
    properties,
  );
  await writeFile(path, bytes);
  return bytes;
}

export function metadataOf(bytes: Uint8Array): FileMetaData {
  return parquetMetadata(bytes);
}

/** The bytes of a column chunk, as hyparquet reads them. */
export function chunkBytes(chunk: ColumnChunk): ByteRange {
  const meta = chunk.meta_data!;
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  return { start, end: start + Number(meta.total_compressed_size) };
}

/** The footer of a file: the Thrift metadata and the 8 bytes after it. */
export function footerRange(bytes: Uint8Array): ByteRange {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(
    bytes.length - 8,
    true,
  );
  return { start: bytes.length - 8 - length, end: bytes.length };
}

/** True when `range` lies inside one of `ranges`. */
export function inside(range: ByteRange, ranges: readonly ByteRange[]): boolean {
  return ranges.some((r) => r.start <= range.start && range.end <= r.end);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The rows of runs as objects (details parsed back from their JSON), for assertions. */
export async function* rowsOf(
  runs: AsyncIterable<MatchRowRun>,
): AsyncGenerator<MatchRow | MatchRowRejection> {
  for await (const run of runs) yield* itemsOf(run);
}

function itemsOf(run: MatchRowRun): (MatchRow | MatchRowRejection)[] {
  const items: (MatchRow | MatchRowRejection)[] = [];
  run.visit({
    valid: (row, participantId, matchedParticipantId, compatibilityScore, rank, detailsJson) =>
      items.push({
        row,
        participantId,
        matchedParticipantId,
        compatibilityScore,
        rank,
        details: JSON.parse(detailsJson) as MatchRow['details'],
      }),
    rejected: (rejection) => items.push(rejection),
  });
  return items;
}

/** {@link readMatchRuns} as a stream of row objects. */
export function readMatchRows(
  ...args: Parameters<typeof readMatchRuns>
): AsyncGenerator<MatchRow | MatchRowRejection> {
  return rowsOf(readMatchRuns(...args));
}

export function splitRows(items: readonly (MatchRow | MatchRowRejection)[]): {
  rows: MatchRow[];
  rejections: MatchRowRejection[];
} {
  const rows: MatchRow[] = [];
  const rejections: MatchRowRejection[] = [];
  for (const item of items) {
    if ('code' in item) rejections.push(item);
    else rows.push(item);
  }
  return { rows, rejections };
}
