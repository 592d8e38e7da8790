import { gzipSync, zstdCompressSync } from 'node:zlib';
import { type ColumnSource, fileWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';

/** Codecs a generated match file can use (compressed by hyparquet-writer, or node:zlib for gzip/zstd). */
export type MatchCodec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'ZSTD';

const COMPRESSORS = {
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)),
};

/** Options of {@link writeMatchParquet}. */
export interface MatchFileOptions {
  readonly codec?: MatchCodec;
  /** Rows per row group (the last one may be shorter). */
  readonly rowGroupRows: number;
  /** Overrides the values of some rows (bad rows for tests); called for every row. */
  readonly row?: (index: number, row: GeneratedMatch) => GeneratedMatch;
}

/** One generated row: the four match columns and two extra ones (which go to `details`). */
export interface GeneratedMatch {
  participant_id: string | null;
  matched_participant_id: string | null;
  compatibility_score: number | null;
  rank: number | null;
  model: string;
  reason_code: number;
}

/**
 * The deterministic row `i`: 20 suggestions per participant, every key unique, a score in [0, 1) from a
 * multiplicative hash, rank 1..20, and two extra columns.
 */
export function generatedMatch(i: number): GeneratedMatch {
  return {
    participant_id: `p-${String(Math.floor(i / 20)).padStart(7, '0')}`,
    matched_participant_id: `m-${String((i * 7919) % 10_000_019).padStart(8, '0')}`,
    compatibility_score: ((i * 2_654_435_761) % 1_000_003) / 1_000_003,
    rank: (i % 20) + 1,
    model: i % 3 === 0 ? 'v3' : 'v2',
    reason_code: i % 5,
  };
}

const NAMES = [
  'participant_id',
  'matched_participant_id',
  'compatibility_score',
  'rank',
  'model',
  'reason_code',
] as const;
const TYPES = {
  participant_id: 'STRING',
  matched_participant_id: 'STRING',
  compatibility_score: 'DOUBLE',
  rank: 'INT32',
  model: 'STRING',
  reason_code: 'INT32',
} as const;

/**
 * Writes a deterministic match file of `rows` rows with hyparquet-writer, one row group at a time (memory:
 * one row group's columns), so that the same `rows` and options give the same bytes on every machine.
 */
export function writeMatchParquet(path: string, rows: number, options: MatchFileOptions): void {
  let writer: ParquetWriter | undefined;
  const groups = Math.max(1, Math.ceil(rows / options.rowGroupRows));
  for (let group = 0; group < groups; group++) {
    const start = group * options.rowGroupRows;
    const end = Math.min(rows, start + options.rowGroupRows);
    const values: Record<(typeof NAMES)[number], unknown[]> = {
      participant_id: [],
      matched_participant_id: [],
      compatibility_score: [],
      rank: [],
      model: [],
      reason_code: [],
    };
    for (let i = start; i < end; i++) {
      const row = options.row ? options.row(i, generatedMatch(i)) : generatedMatch(i);
      for (const name of NAMES) values[name].push(row[name]);
    }
    // Nullable throughout: a later row group may hold the nulls of bad rows.
    const columnData: ColumnSource[] = NAMES.map((name) => ({
      name,
      data: values[name],
      type: TYPES[name],
      nullable: true,
    }));
    writer ??= new ParquetWriter({
      writer: fileWriter(path),
      schema: schemaFromColumnData({ columnData }),
      codec: options.codec ?? 'SNAPPY',
      compressors: COMPRESSORS,
    });
    if (end > start) writer.write({ columnData, rowGroupSize: end - start });
  }
  writer?.finish();
}
