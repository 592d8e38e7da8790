/** Contracts of a match import: the plan of a Parquet file, its batches and the rows they yield. */

import type { RowRejection } from '../model/types.ts';
import type { ByteRange } from '../storage/object-store.ts';

/** A value that survives `JSON.stringify` unchanged (what a `jsonb` column stores). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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
}

/** What planning a match file returns (kept small: it travels in the state payload). */
export interface MatchPlan {
  /** Every top-level column, in file order. */
  readonly columns: readonly MatchColumn[];
  /** Rows in the file. */
  readonly total: number;
  readonly batches: readonly MatchBatch[];
}

/** A valid match suggestion read from the file. */
export interface MatchRow {
  /** Index of the row in the file, 0-based. */
  readonly row: number;
  readonly participantId: string;
  readonly matchedParticipantId: string;
  readonly compatibilityScore: number;
  readonly rank: number | null;
  /** Every other column by name, JSON-safe; null cells are left out. */
  readonly details: Record<string, JsonValue>;
}

/**
 * A row that cannot be loaded. `line` is the row index + 1 (a Parquet file has no lines: this keeps the
 * 1-based numbering of the reports shared with CSV imports); `row` is the 0-based index.
 */
export interface MatchRowRejection extends RowRejection {
  readonly row: number;
}
