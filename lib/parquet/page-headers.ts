import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { InvalidFileError } from '../errors.ts';
import { chunkRange } from './footer.ts';
import type { RangeBuffer } from './range-buffer.ts';

/** The fields of a Parquet page header that bound the work of decoding the page. */
export interface PageHeaderBounds {
  /** Bytes of the header itself (Thrift compact protocol). */
  readonly headerBytes: number;
  /** Parquet PageType: 0 DATA_PAGE, 1 INDEX_PAGE, 2 DICTIONARY_PAGE, 3 DATA_PAGE_V2. */
  readonly type: number;
  readonly uncompressedBytes: number;
  readonly compressedBytes: number;
  /** Values (DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE). */
  readonly values?: number;
  /** DATA_PAGE_V2 only. */
  readonly rows?: number;
  readonly nulls?: number;
  readonly levelBytes?: number;
}

const DATA_PAGE = 0;
const DICTIONARY_PAGE = 2;
const DATA_PAGE_V2 = 3;

// Thrift compact protocol element types.
const TRUE = 1;
const FALSE = 2;
const BYTE = 3;
const I16 = 4;
const I32 = 5;
const I64 = 6;
const DOUBLE = 7;
const BINARY = 8;
const LIST = 9;
const SET = 10;
const MAP = 11;
const STRUCT = 12;
/** Deeper nesting than a page header has (statistics inside a data page header) is not a page header. */
const MAX_DEPTH = 8;

class ThriftReader {
  readonly #bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset: number) {
    this.#bytes = bytes;
    this.offset = offset;
  }

  byte(): number {
    const value = this.#bytes[this.offset];
    if (value === undefined) throw new RangeError('page header runs past the bytes read');
    this.offset += 1;
    return value;
  }

  /** An unsigned varint, as a number (exact up to 2^53). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  zigzag(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  skip(length: number): void {
    if (length < 0 || this.offset + length > this.#bytes.length) {
      throw new RangeError('page header runs past the bytes read');
    }
    this.offset += length;
  }

  /** A struct's integer fields by id (nested structs by id too); other values are skipped. */
  struct(depth: number): Map<number, number | Map<number, unknown>> {
    if (depth > MAX_DEPTH) throw new RangeError('page header nested too deep');
    const fields = new Map<number, number | Map<number, unknown>>();
    let id = 0;
    while (true) {
      const head = this.byte();
      const type = head & 0x0f;
      if (type === 0) return fields;
      const delta = head >> 4;
      id = delta === 0 ? this.zigzag() : id + delta;
      if (type === I16 || type === I32 || type === I64) fields.set(id, this.zigzag());
      else if (type === STRUCT) fields.set(id, this.struct(depth + 1));
      else this.value(type, depth);
    }
  }

  /** Skips one value of `type`. */
  value(type: number, depth: number): void {
    switch (type) {
      case TRUE:
      case FALSE:
        return;
      case BYTE:
        this.skip(1);
        return;
      case I16:
      case I32:
      case I64:
        this.varint();
        return;
      case DOUBLE:
        this.skip(8);
        return;
      case BINARY:
        this.skip(this.varint());
        return;
      case LIST:
      case SET: {
        const head = this.byte();
        const size = head >> 4 === 15 ? this.varint() : head >> 4;
        for (let i = 0; i < size; i++) this.element(head & 0x0f, depth);
        return;
      }
      case MAP: {
        const size = this.varint();
        if (size === 0) return;
        const types = this.byte();
        for (let i = 0; i < size; i++) {
          this.element(types >> 4, depth);
          this.element(types & 0x0f, depth);
        }
        return;
      }
      case STRUCT:
        this.struct(depth + 1);
        return;
      default:
        throw new RangeError(`unknown thrift type ${type}`);
    }
  }

  /** A list, set or map element: booleans take a byte there. */
  element(type: number, depth: number): void {
    if (type === TRUE || type === FALSE) this.skip(1);
    else this.value(type, depth);
  }
}

const int = (fields: Map<number, unknown> | undefined, id: number): number | undefined => {
  const value = fields?.get(id);
  return typeof value === 'number' ? value : undefined;
};
const struct = (fields: Map<number, unknown>, id: number): Map<number, unknown> | undefined => {
  const value = fields.get(id);
  return value instanceof Map ? value : undefined;
};

/**
 * Reads the page header at `offset` of `bytes`: its length and the sizes and counts that bound decoding.
 *
 * @throws RangeError when the bytes are not a well-formed header.
 */
export function readPageHeader(bytes: Uint8Array, offset: number): PageHeaderBounds {
  const reader = new ThriftReader(bytes, offset);
  const fields = reader.struct(0);
  const type = int(fields, 1);
  const uncompressedBytes = int(fields, 2);
  const compressedBytes = int(fields, 3);
  if (type === undefined || uncompressedBytes === undefined || compressedBytes === undefined) {
    throw new RangeError('page header without its type or sizes');
  }
  const common = { headerBytes: reader.offset - offset, type, uncompressedBytes, compressedBytes };
  const v1 = struct(fields, 5);
  const dictionary = struct(fields, 7);
  const v2 = struct(fields, 8);
  if (type === DATA_PAGE && v1) return { ...common, values: int(v1, 1) ?? -1 };
  if (type === DICTIONARY_PAGE && dictionary) return { ...common, values: int(dictionary, 1) ?? -1 };
  if (type === DATA_PAGE_V2 && v2) {
    return {
      ...common,
      values: int(v2, 1) ?? -1,
      nulls: int(v2, 2) ?? -1,
      rows: int(v2, 3) ?? -1,
      levelBytes: (int(v2, 5) ?? -1) + (int(v2, 6) ?? -1),
    };
  }
  if (type === DATA_PAGE || type === DICTIONARY_PAGE || type === DATA_PAGE_V2) {
    throw new RangeError('page header without the header of its page type');
  }
  return common;
}

/** Why a page cannot be decoded within the bounds of its column chunk; undefined when it can. */
export function pageProblem(
  page: PageHeaderBounds,
  chunkValues: number,
  chunkBytesLeft: number,
): string | undefined {
  const { uncompressedBytes, compressedBytes, values } = page;
  if (compressedBytes < 0 || uncompressedBytes < 0) return 'a negative page size';
  if (page.headerBytes + compressedBytes > chunkBytesLeft) return 'a page that runs past its column chunk';
  if (values === undefined) return undefined;
  if (page.type === DICTIONARY_PAGE) {
    // A dictionary value takes at least one bit.
    return values < 0 || values > uncompressedBytes * 8 ? `a dictionary of ${values} values` : undefined;
  }
  if (values < 0 || values > chunkValues) {
    return `a page of ${values} values in a column chunk of ${chunkValues}`;
  }
  const { rows, nulls, levelBytes } = page;
  if (rows !== undefined && (rows < 0 || rows > values)) return `a page of ${rows} rows and ${values} values`;
  if (nulls !== undefined && (nulls < 0 || nulls > values))
    return `a page of ${nulls} nulls and ${values} values`;
  if (levelBytes !== undefined && (levelBytes < 0 || levelBytes > compressedBytes)) {
    return 'page levels larger than the page';
  }
  return undefined;
}

interface ChunkSpan {
  readonly column: string;
  readonly start: number;
  readonly end: number;
  readonly values: number;
}

/**
 * `buffer` for hyparquet's reads of one row group, checking every page header in the bytes it hands out
 * against the page's column chunk before hyparquet decodes it: a corrupt header (a value count larger than
 * its chunk's, a size past the chunk's end, a negative size) would otherwise make the decoder allocate and
 * fill for minutes, synchronously, beyond any deadline. Reads inside a column chunk start at a page (the
 * chunk's start or a page of its offset index), as hyparquet makes them.
 *
 * @throws InvalidFileError `CORRUPT_DATA` from `slice`, naming the column and the problem.
 */
export function pageCheckedBuffer(
  buffer: RangeBuffer,
  metadata: FileMetaData,
  rowGroup: number,
): AsyncBuffer {
  const chunks: ChunkSpan[] = (metadata.row_groups[rowGroup]?.columns ?? []).flatMap((chunk) => {
    const range = chunkRange(chunk, buffer.uri, rowGroup);
    const meta = chunk.meta_data;
    if (!range || !meta) return [];
    return [{ column: meta.path_in_schema.join('.'), ...range, values: Number(meta.num_values) }];
  });
  return {
    byteLength: buffer.byteLength,
    slice: async (start: number, end?: number) => {
      const bytes = await buffer.slice(start, end);
      checkPages(buffer.uri, rowGroup, chunks, start, new Uint8Array(bytes));
      return bytes;
    },
  };
}

function checkPages(
  uri: string,
  rowGroup: number,
  chunks: readonly ChunkSpan[],
  start: number,
  bytes: Uint8Array,
): void {
  const end = start + bytes.length;
  for (const chunk of chunks) {
    let at = Math.max(start, chunk.start);
    const stop = Math.min(end, chunk.end);
    while (at < stop) {
      let problem: string | undefined;
      let next = stop;
      try {
        const page = readPageHeader(bytes, at - start);
        problem = pageProblem(page, chunk.values, chunk.end - at);
        next = at + page.headerBytes + page.compressedBytes;
      } catch (error) {
        // A header cut by the end of the read is checked by the read that holds it.
        if (stop === end && stop < chunk.end) break;
        problem = `an unreadable page header (${(error as Error).message})`;
      }
      if (problem) {
        throw new InvalidFileError(
          'CORRUPT_DATA',
          `${uri}: column ${chunk.column} of row group ${rowGroup} has ${problem}`,
          { uri, rowGroup, column: chunk.column, offset: at },
        );
      }
      at = next;
    }
  }
}
