/** Contracts of a match import: the plan of a Parquet file, its batches and the rows they yield. */

import type { ByteRange } from '../storage/object-store.ts';

/** A top-level column of the file: its name and a short description of its Parquet type. */
export interface MatchColumn {
  readonly name: string;
  /** Physical type and annotation, e.g. `BYTE_ARRAY/STRING`, `DOUBLE`, `INT64/TIMESTAMP(MICROS)`, `GROUP/LIST`. */
  readonly type: string;
}

/**
 * One unit of load work: the rows `[rowStart, rowEnd)` of the file (0-based row indexes), which lie in the
 * row groups `rowGroups`. Either whole row groups, or one part of a single row group too large for a batch.
 */
export interface MatchBatch {
  readonly index: number;
  readonly rowStart: number;
  readonly rowEnd: number;
  /** Indexes of the row groups holding the rows, ascending. */
  readonly rowGroups: readonly number[];
  /**
   * Every byte the batch may read besides the footer: its row groups' column chunks and their offset
   * indexes (used to read only the pages of a part of a row group). Ascending, coalesced.
   */
  readonly byteRanges: readonly ByteRange[];
  /**
   * A batch of one part of a sharded source: the part's position in the job's part order (its URI and pin
   * are recorded with the job, not carried in the state) and the job row of its first row. `rowStart`,
   * `rowEnd` and `rowGroups` are then the part's own.
   */
  readonly part?: MatchBatchPart;
}

/** Which part of a sharded source a batch reads. */
export interface MatchBatchPart {
  readonly index: number;
  /** The job row (0-based, counted across parts in part order) of the part's first row. */
  readonly firstRow: number;
}

/** What planning a match file returns (kept small: it travels in the state payload). */
export interface MatchPlan {
  /** Every top-level column, in file order. */
  readonly columns: readonly MatchColumn[];
  /** Rows in the file. */
  readonly total: number;
  readonly batches: readonly MatchBatch[];
}
