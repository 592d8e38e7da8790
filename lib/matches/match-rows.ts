/**
 * Match rows as every match import path hands them to the loader: the valid suggestion, the rejected row,
 * and runs of rows visited without an object per row (what the Parquet reader, the API's CSV and NDJSON
 * readers produce, and what `loadMatches` consumes).
 */
import type { RowRejection } from '../model/types.ts';

/** A value that survives `JSON.stringify` unchanged (what a `jsonb` column stores). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A valid match suggestion read from a match file. */
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

/** Most rows in one {@link MatchRowRun}: small enough to fill DB batches evenly. */
export const RUN_ROWS = 1000;

/**
 * Receives the rows of a {@link MatchRowRun} in file order, without an object per row: the loader writes
 * each valid row straight into its COPY text.
 */
export interface MatchRowVisitor {
  /** A valid row; `detailsJson` is the JSON object text of its other columns (null cells left out). */
  valid(
    row: number,
    participantId: string,
    matchedParticipantId: string,
    compatibilityScore: number,
    rank: number | null,
    detailsJson: string,
  ): void;
  rejected(rejection: MatchRowRejection): void;
}

/** Consecutive rows of a match file, decoded and checked, handed to a visitor. */
export interface MatchRowRun {
  /** Rows in the run, valid or rejected. */
  readonly size: number;
  visit(visitor: MatchRowVisitor): void;
}

/** A run of rows already checked (e.g. from CSV or NDJSON), for the loader, which takes runs of rows. */
export function matchRowRun(items: readonly (MatchRow | MatchRowRejection)[]): MatchRowRun {
  return {
    size: items.length,
    visit: (visitor) => {
      for (const item of items) {
        if ('code' in item) visitor.rejected(item);
        else
          visitor.valid(
            item.row,
            item.participantId,
            item.matchedParticipantId,
            item.compatibilityScore,
            item.rank,
            JSON.stringify(item.details),
          );
      }
    },
  };
}
