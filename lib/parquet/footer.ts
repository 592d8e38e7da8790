import {
  type ColumnChunk,
  type FileMetaData,
  parquetMetadata,
  parquetSchema,
  type SchemaTree,
} from 'hyparquet';
import { InvalidFileError } from '../errors.ts';
import type { ByteRange } from '../storage/object-store.ts';
import { isSupportedCodec } from './decompressors.ts';
import type { RangeBuffer } from './range-buffer.ts';

/** `PAR1`, little-endian: the first and last 4 bytes of a Parquet file. */
const MAGIC = 0x31524150;
/** `PARE`: the last 4 bytes of a file with an encrypted footer. */
const ENCRYPTED_MAGIC = 0x45524150;
/** Leading magic + footer length + trailing magic. */
const MIN_FILE_BYTES = 12;

/** Where a row group's rows and bytes are. */
export interface RowGroupLayout {
  readonly index: number;
  /** Index in the file of its first row. */
  readonly rowStart: number;
  readonly rows: number;
  /** Its column chunks, from the first byte of the first to the end of the last. */
  readonly data: ByteRange;
  /** Its column chunks' offset indexes (page locations), when the writer wrote any. */
  readonly offsetIndex?: ByteRange;
}

/** The decoded footer of a Parquet file. */
export interface ParquetFooter {
  readonly metadata: FileMetaData;
  /** Offset of the footer's first byte (the Thrift metadata); the file ends 8 bytes after the metadata. */
  readonly start: number;
  /** Rows in the file. */
  readonly total: number;
  readonly rowGroups: readonly RowGroupLayout[];
}

/**
 * Reads and checks the footer of a Parquet file: the last 8 bytes (footer length and magic), then exactly
 * the footer; the first 4 bytes only to tell a file that is not Parquet from one whose end is missing.
 * Checks that every column chunk and offset index lies between the leading magic and the footer.
 *
 * @throws InvalidFileError `EMPTY_FILE`; `NOT_PARQUET` (no `PAR1` magic at either end);
 *   `TRUNCATED_FOOTER` (starts as Parquet but does not end with `PAR1`: the end of the file, with its
 *   footer, is missing); `CORRUPT_FOOTER` (the footer length or metadata cannot be read, or points outside
 *   the file); `UNSUPPORTED_PARQUET` (encrypted footer or columns, column chunks in other files);
 *   `UNSUPPORTED_CODEC`.
 */
export async function readParquetFooter(buffer: RangeBuffer): Promise<ParquetFooter> {
  const { uri, byteLength: size } = buffer;
  const details = { uri, size };
  if (size === 0) throw new InvalidFileError('EMPTY_FILE', `${uri} is empty`, details);
  const last = new DataView(await buffer.slice(Math.max(0, size - 8), size));
  const tailMagic = last.byteLength >= 4 ? last.getUint32(last.byteLength - 4, true) : 0;
  if (tailMagic !== MAGIC || size < MIN_FILE_BYTES) {
    if (tailMagic === ENCRYPTED_MAGIC) {
      throw new InvalidFileError('UNSUPPORTED_PARQUET', `${uri} has an encrypted footer`, details);
    }
    const first = new DataView(await buffer.slice(0, Math.min(4, size)));
    if (first.byteLength === 4 && first.getUint32(0, true) === MAGIC) {
      throw new InvalidFileError(
        'TRUNCATED_FOOTER',
        `${uri} starts as a Parquet file but its footer is missing: the file is truncated`,
        details,
      );
    }
    throw new InvalidFileError('NOT_PARQUET', `${uri} is not a Parquet file (no PAR1 magic)`, details);
  }
  const metadataLength = last.getUint32(0, true);
  const start = size - 8 - metadataLength;
  if (start < 4) {
    throw new InvalidFileError(
      'CORRUPT_FOOTER',
      `${uri}: footer length ${metadataLength} exceeds the file (${size} bytes)`,
      { ...details, metadataLength },
    );
  }
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(await buffer.slice(start, size));
  } catch (error) {
    if (error instanceof InvalidFileError) throw error;
    throw new InvalidFileError(
      'CORRUPT_FOOTER',
      `${uri}: footer metadata cannot be decoded`,
      { ...details, metadataLength },
      { cause: error },
    );
  }
  return checkLayout(metadata, start, uri);
}

function checkLayout(metadata: FileMetaData, footerStart: number, uri: string): ParquetFooter {
  const corrupt = (what: string, extra: Record<string, unknown> = {}): InvalidFileError =>
    new InvalidFileError('CORRUPT_FOOTER', `${uri}: ${what}`, { uri, ...extra });
  let schema: SchemaTree;
  try {
    schema = parquetSchema(metadata);
  } catch (error) {
    throw new InvalidFileError('CORRUPT_FOOTER', `${uri}: schema cannot be read`, { uri }, { cause: error });
  }
  const leaves = schema.children.length === 0 ? 0 : countLeaves(schema);
  const within = (range: ByteRange): boolean => range.start >= 4 && range.end <= footerStart;
  const rowGroups: RowGroupLayout[] = [];
  let rowStart = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rows = toSafeNumber(group.num_rows);
    if (rows === undefined || rows < 0) throw corrupt(`row group ${index} has an invalid row count`);
    if (group.columns.length !== leaves) {
      throw corrupt(`row group ${index} has ${group.columns.length} column chunks for ${leaves} columns`);
    }
    let data: ByteRange | undefined;
    let offsetIndex: ByteRange | undefined;
    for (const chunk of group.columns) {
      const range = chunkRange(chunk, uri, index);
      if (!range || !within(range)) throw corrupt(`row group ${index} has a column chunk outside the file`);
      data = span(data, range);
      if (chunk.offset_index_offset !== undefined && chunk.offset_index_length) {
        const indexStart = toSafeNumber(chunk.offset_index_offset);
        const indexRange =
          indexStart === undefined
            ? undefined
            : { start: indexStart, end: indexStart + chunk.offset_index_length };
        if (!indexRange || !within(indexRange)) {
          throw corrupt(`row group ${index} has an offset index outside the file`);
        }
        offsetIndex = span(offsetIndex, indexRange);
      }
    }
    if (rows > 0 && data) {
      rowGroups.push({ index, rowStart, rows, data, ...(offsetIndex ? { offsetIndex } : {}) });
    }
    rowStart += rows;
  }
  const total = toSafeNumber(metadata.num_rows);
  if (total !== rowStart) {
    throw corrupt(`num_rows ${metadata.num_rows} differs from the row groups' ${rowStart} rows`);
  }
  return { metadata, start: footerStart, total, rowGroups };
}

/**
 * The bytes of a column chunk (dictionary page and data pages), or undefined when they make no sense.
 *
 * @throws InvalidFileError for a chunk in another file, without metadata or with an unsupported codec.
 */
export function chunkRange(chunk: ColumnChunk, uri: string, rowGroup: number): ByteRange | undefined {
  if (chunk.file_path) {
    throw new InvalidFileError('UNSUPPORTED_PARQUET', `${uri}: column chunks in other files`, {
      uri,
      filePath: chunk.file_path,
    });
  }
  const meta = chunk.meta_data;
  if (!meta) {
    throw new InvalidFileError('UNSUPPORTED_PARQUET', `${uri}: column metadata missing or encrypted`, {
      uri,
    });
  }
  if (!isSupportedCodec(meta.codec)) {
    throw new InvalidFileError(
      'UNSUPPORTED_CODEC',
      `${uri}: column ${meta.path_in_schema.join('.')} uses the unsupported codec ${meta.codec}`,
      { uri, rowGroup, column: meta.path_in_schema.join('.'), codec: meta.codec },
    );
  }
  // A dictionary page offset of 0 means "none" for some writers; hyparquet reads from the same place.
  const start = toSafeNumber(meta.dictionary_page_offset || meta.data_page_offset);
  const length = toSafeNumber(meta.total_compressed_size);
  if (start === undefined || length === undefined || length < 0) return undefined;
  return { start, end: start + length };
}

function span(a: ByteRange | undefined, b: ByteRange): ByteRange {
  return a ? { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) } : b;
}

function countLeaves(node: SchemaTree): number {
  return node.children.length === 0 ? 1 : node.children.reduce((sum, child) => sum + countLeaves(child), 0);
}

function toSafeNumber(value: bigint | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}
