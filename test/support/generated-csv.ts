import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, ObjectStore } from '../../lib/storage/object-store.ts';

/** The header of every generated node CSV. */
const HEADER = 'reference_id,seq,bio\n';
/** Digits of a row number in its reference id and `seq` cell: fixed, so every row has the same length. */
const DIGITS = 10;
/** Bytes of a row before its bio: `n-<digits>,<digits>,`. */
const PREFIX_BYTES = 2 + DIGITS + 1 + DIGITS + 1;
/** Bios differ by row (row mod this) so a row loaded in the place of another shows. */
export const BIO_VARIANTS = 7;
/** Whole rows generated at once: a chunk of some 64 KB for the widest rows of the tests. */
const CHUNK_TARGET_BYTES = 64 * 1024;

/**
 * A node CSV computed from the byte offset, never stored: fixed-length rows, so any byte range is produced
 * directly. Row `i` is `n-<i>,<i>,<bio i mod 7>` (numbers zero-padded to 10 digits); a bio is a long,
 * compressible text, as wide as `rowBytes` asks.
 */
export interface GeneratedCsv {
  readonly rows: number;
  /** Bytes of every row, its LF included. */
  readonly rowBytes: number;
  /** Bytes of the whole file, header included. */
  readonly size: number;
  /** The bio of each variant: row `i` has `bios[i % BIO_VARIANTS]`. */
  readonly bios: readonly string[];
  /** The bytes `[start, end)` of the file, in chunks of some 64 KB. */
  read(range: ByteRange): AsyncGenerator<Buffer>;
}

export const referenceOf = (row: number) => `n-${String(row).padStart(DIGITS, '0')}`;

/** A generated CSV of `rows` rows of `rowBytes` bytes each (at least 64, for a bio worth the name). */
export function generatedCsv(rows: number, rowBytes: number): GeneratedCsv {
  const bioBytes = rowBytes - PREFIX_BYTES - 1;
  if (bioBytes < 32) throw new RangeError(`rows of ${rowBytes} bytes leave no room for a bio`);
  const bios = Array.from({ length: BIO_VARIANTS }, (_, v) => {
    const phrase = `variant ${v} likes long walks and ${'quiet '.repeat(v + 1)}evenings and plain text; `;
    return `${`bio ${v}: `}${phrase.repeat(Math.ceil(bioBytes / phrase.length))}`.slice(0, bioBytes);
  });
  const bioBuffers = bios.map((bio) => Buffer.from(bio, 'latin1'));
  const header = Buffer.from(HEADER, 'latin1');
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / rowBytes));
  const size = header.length + rows * rowBytes;

  /** Rows `[first, first + count)`, whole. */
  function rowsAt(first: number, count: number): Buffer {
    const out = Buffer.allocUnsafe(count * rowBytes);
    for (let k = 0; k < count; k++) {
      const row = first + k;
      const at = k * rowBytes;
      const digits = String(row).padStart(DIGITS, '0');
      out.write(`n-${digits},${digits},`, at, 'latin1');
      bioBuffers[row % BIO_VARIANTS]!.copy(out, at + PREFIX_BYTES);
      out[at + rowBytes - 1] = 0x0a;
    }
    return out;
  }

  async function* read({ start, end }: ByteRange): AsyncGenerator<Buffer> {
    let at = start;
    if (at < header.length && at < end) {
      yield header.subarray(at, Math.min(end, header.length));
      at = Math.min(end, header.length);
    }
    while (at < end) {
      const first = Math.floor((at - header.length) / rowBytes);
      const count = Math.min(rowsPerChunk, rows - first);
      const chunkStart = header.length + first * rowBytes;
      const chunk = rowsAt(first, count);
      const to = Math.min(end, chunkStart + chunk.length);
      yield chunk.subarray(at - chunkStart, to - chunkStart);
      at = to;
    }
  }

  return { rows, rowBytes, size, bios, read };
}

/**
 * An object store that serves `csv` at `uri` (HEAD and ranged reads, as S3 would) and hands every other
 * location to `base`: the job's staging and report objects are written as usual.
 */
export function generatedCsvStore(base: ObjectStore, uri: string, csv: GeneratedCsv): ObjectStore {
  const info: ObjectInfo = { uri, size: csv.size, contentType: 'text/csv' };
  return {
    head: async (target) => (target === uri ? info : base.head(target)),
    exists: async (target) => target === uri || base.exists(target),
    remove: (target) => base.remove(target),
    list: (folder) => base.list(folder),
    read: async (target, range) => {
      if (target !== uri) return base.read(target, range);
      const r = range ?? { start: 0, end: csv.size };
      if (r.start < 0 || r.end < r.start || r.end > csv.size) {
        throw new RangeError(`range ${r.start}-${r.end} outside the generated file (${csv.size} bytes)`);
      }
      return Readable.from(csv.read(r), { objectMode: false });
    },
    write: (target, body, options) => {
      if (target === uri) throw new Error('the generated file is read-only');
      return base.write(target, body, options);
    },
  };
}
