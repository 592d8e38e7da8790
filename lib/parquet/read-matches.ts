import { type ColumnData, type FileMetaData, parquetRead, parquetSchema } from 'hyparquet';
import { InvalidFileError, MatchbridgeError } from '../errors.ts';
import { firstMatchRowProblem, isParticipantId, matchRank } from '../matches/match-row-rules.ts';
import {
  type MatchRowRejection,
  type MatchRowRun,
  type MatchRowVisitor,
  RUN_ROWS,
} from '../matches/match-rows.ts';
import type { SourcePin } from '../model/types.ts';
import type { ByteRange, ObjectStore } from '../storage/object-store.ts';
import { parquetDecompressors } from './decompressors.ts';
import { type RowGroupLayout, readParquetFooter } from './footer.ts';
import { timeParsers } from './iso-time.ts';
import { toJsonValue } from './json-value.ts';
import { isKnownMatchColumn, MatchColumnName, resolveMatchColumns } from './match-columns.ts';
import { pageCheckedBuffer } from './page-headers.ts';
import { openRangeBuffer, type RangeBuffer } from './range-buffer.ts';
import type { MatchBatch, MatchColumn } from './types.ts';

/** Options of {@link readMatchRuns}. */
export interface ReadMatchRowsOptions {
  /** Called after each range read (metrics, tests). */
  readonly onRead?: (range: ByteRange) => void;
  /**
   * Most rows decoded at once when a row group can be read page by page (every column chunk has an offset
   * index, or is small); otherwise a whole row group (its part in the batch) is decoded at once.
   * Default {@link DEFAULT_MAX_ROWS_PER_READ}.
   */
  readonly maxRowsPerRead?: number;
  /** The version of the file the plan read: every read must find it (`SOURCE_CHANGED` otherwise). */
  readonly pin?: SourcePin | undefined;
  /**
   * The job row of the file's first row, for a part of a sharded source (default 0): the rows handed on,
   * valid and rejected, are numbered in the job (row index + `firstRow`), so that rows stay unique across
   * parts and a later part's row wins over an earlier part's.
   */
  readonly firstRow?: number;
}

/**
 * Default {@link ReadMatchRowsOptions.maxRowsPerRead}: the decoded values of the usual columns fit in the
 * 96 MB heap a batch worker is benchmarked in. Smaller reads cost more CPU: a page that straddles two reads
 * is decoded by both (writers cut pages at about 1 MB, tens of thousands of rows), and chunks without an
 * offset index are decoded again each time. Measured on 250K-row groups of 75K-row pages: 65,536-row reads
 * took 40% more client CPU than whole row groups.
 */
export const DEFAULT_MAX_ROWS_PER_READ = 262_144;

/** A column chunk without an offset index is read whole for each part; up to this size that is acceptable. */
const SMALL_CHUNK_BYTES = 1024 * 1024;

/**
 * Streams the rows of one batch of a match file, in file order, as runs of up to {@link RUN_ROWS} rows; a
 * run hands each row to a visitor as a valid row or, when it cannot be loaded, a {@link MatchRowRejection}
 * (`line` = row index + `firstRow` + 1) with the code of the first match row rule it breaks
 * ({@link firstMatchRowProblem}: the rules the bulk API's CSV and NDJSON rows follow too).
 *
 * Reads the footer again (two range reads), then only the batch's row groups: a whole row group as one
 * read of its column chunks, or, for a part of a row group, the pages holding its rows when the file has
 * offset indexes (else the whole chunks, decoding only up to the part's last row).
 *
 * Memory: the decoded columns of one read at a time, i.e. of at most one row group's rows in the batch,
 * and of at most `maxRowsPerRead` rows when the row group can be read page by page; plus that read's
 * compressed column chunks. A run holds no copy of its rows: they are read from the decoded columns as it is
 * visited.
 *
 * @param columns the plan's columns: the file must still have exactly these, and the batch's row groups.
 * @throws InvalidFileError the footer's errors, `FILE_CHANGED` (the file no longer matches the plan),
 *   `CORRUPT_DATA` (a page cannot be decoded, or a column has too few values); the store's errors.
 */
export async function* readMatchRuns(
  store: ObjectStore,
  uri: string,
  batch: MatchBatch,
  columns: readonly MatchColumn[],
  options: ReadMatchRowsOptions = {},
): AsyncGenerator<MatchRowRun> {
  checkBatch(batch);
  const maxRowsPerRead = options.maxRowsPerRead ?? DEFAULT_MAX_ROWS_PER_READ;
  if (!Number.isSafeInteger(maxRowsPerRead) || maxRowsPerRead < 1) {
    throw new RangeError(`maxRowsPerRead must be an integer ≥ 1, got ${maxRowsPerRead}`);
  }
  const buffer = await openRangeBuffer(store, uri, {
    ...(options.onRead ? { onRead: options.onRead } : {}),
    pin: options.pin,
  });
  const footer = await readParquetFooter(buffer);
  const groups = batchRowGroups(
    batch,
    columns,
    footer.rowGroups,
    resolveMatchColumns(footer.metadata, uri),
    uri,
  );
  const shape = rowShape(footer.metadata);
  for (const group of groups) {
    const from = Math.max(batch.rowStart, group.rowStart);
    const to = Math.min(batch.rowEnd, group.rowStart + group.rows);
    for (const [readStart, readEnd] of readRanges(footer.metadata, group, from, to, maxRowsPerRead)) {
      const decoded = new DecodedColumns(
        shape,
        await readColumns(buffer, footer.metadata, group.index, readStart, readEnd),
        options.firstRow ?? 0,
      );
      for (let from = readStart; from < readEnd; from += RUN_ROWS) {
        yield decoded.run(from, Math.min(from + RUN_ROWS, readEnd));
      }
    }
  }
}

/**
 * The values of one column for a read, row by row across the arrays (pages or chunks) hyparquet decoded,
 * without copying them into one. Rows must be asked for in ascending order.
 */
class ColumnCursor {
  readonly #pieces: readonly ColumnData[];
  #next = 0;
  #data: ArrayLike<unknown> = [];
  #start = 0;
  #end = 0;

  /** `pieces`: contiguous, ascending, covering every row that will be asked for. */
  constructor(pieces: readonly ColumnData[]) {
    this.#pieces = pieces;
  }

  at(row: number): unknown {
    while (row >= this.#end) {
      const piece = this.#pieces[this.#next++]!;
      this.#data = piece.columnData;
      this.#start = piece.rowStart;
      this.#end = piece.rowStart + piece.columnData.length;
    }
    return this.#data[row - this.#start];
  }
}

interface RowShape {
  /** Names of the columns that go to `details`, in file order. */
  readonly details: readonly string[];
  readonly hasRank: boolean;
}

function rowShape(metadata: FileMetaData): RowShape {
  const names = parquetSchema(metadata).children.map((node) => node.element.name);
  return {
    details: names.filter((name) => !isKnownMatchColumn(name)),
    hasRank: names.includes(MatchColumnName.RANK),
  };
}

function checkBatch(batch: MatchBatch): void {
  const ok =
    Number.isSafeInteger(batch.rowStart) &&
    Number.isSafeInteger(batch.rowEnd) &&
    batch.rowStart >= 0 &&
    batch.rowEnd > batch.rowStart &&
    batch.rowGroups.length > 0 &&
    batch.rowGroups.every((g, i) => Number.isSafeInteger(g) && (i === 0 || g > batch.rowGroups[i - 1]!));
  if (!ok) throw new RangeError(`invalid match batch ${JSON.stringify(batch)}`);
}

/** The batch's row groups, checking that the file still matches the plan the batch comes from. */
function batchRowGroups(
  batch: MatchBatch,
  planned: readonly MatchColumn[],
  layouts: readonly RowGroupLayout[],
  actual: readonly MatchColumn[],
  uri: string,
): RowGroupLayout[] {
  const changed = (what: string): InvalidFileError =>
    new InvalidFileError('FILE_CHANGED', `${uri} changed since it was planned: ${what}`, {
      uri,
      batch: batch.index,
    });
  const sameColumns =
    planned.length === actual.length &&
    planned.every((column, i) => column.name === actual[i]!.name && column.type === actual[i]!.type);
  if (!sameColumns) throw changed('its columns differ');
  const byIndex = new Map(layouts.map((layout) => [layout.index, layout]));
  const groups = batch.rowGroups.map((index) => byIndex.get(index));
  const first = groups[0];
  const last = groups[groups.length - 1];
  const present = groups.filter((group) => group !== undefined);
  if (!first || !last || present.length !== groups.length) throw changed('a row group is missing');
  if (batch.rowStart < first.rowStart || batch.rowEnd > last.rowStart + last.rows) {
    throw changed(
      `rows ${batch.rowStart}-${batch.rowEnd} are not in row groups ${batch.rowGroups.join(',')}`,
    );
  }
  return present;
}

/** Row ranges `[start, end)` decoded at once: the whole range, or parts when pages can be read alone. */
function readRanges(
  metadata: FileMetaData,
  group: RowGroupLayout,
  from: number,
  to: number,
  maxRows: number,
): [number, number][] {
  const rows = to - from;
  if (rows <= maxRows || !readsByPage(metadata, group)) return rows > 0 ? [[from, to]] : [];
  const parts = Math.ceil(rows / maxRows);
  const ranges: [number, number][] = [];
  for (let part = 0; part < parts; part++) {
    ranges.push([from + Math.floor((rows * part) / parts), from + Math.floor((rows * (part + 1)) / parts)]);
  }
  return ranges;
}

function readsByPage(metadata: FileMetaData, group: RowGroupLayout): boolean {
  const chunks = metadata.row_groups[group.index]?.columns ?? [];
  return chunks.every(
    (chunk) =>
      (chunk.offset_index_offset !== undefined && Boolean(chunk.offset_index_length)) ||
      Number(chunk.meta_data?.total_compressed_size ?? 0) <= SMALL_CHUNK_BYTES,
  );
}

/** Decodes every column for the rows `[rowStart, rowEnd)` of one row group. */
async function readColumns(
  buffer: RangeBuffer,
  metadata: FileMetaData,
  rowGroup: number,
  rowStart: number,
  rowEnd: number,
): Promise<Map<string, ColumnCursor>> {
  const pieces = new Map<string, ColumnData[]>();
  try {
    await parquetRead({
      file: pageCheckedBuffer(buffer, metadata, rowGroup),
      metadata,
      rowStart,
      rowEnd,
      compressors: parquetDecompressors,
      parsers: timeParsers,
      useOffsetIndex: true,
      onChunk: (chunk) => {
        const list = pieces.get(chunk.columnName);
        if (list) list.push(chunk);
        else pieces.set(chunk.columnName, [chunk]);
      },
    });
  } catch (error) {
    if (error instanceof MatchbridgeError) throw error;
    throw new InvalidFileError(
      'CORRUPT_DATA',
      `${buffer.uri}: row group ${rowGroup} cannot be decoded`,
      { uri: buffer.uri, rowGroup, rowStart, rowEnd },
      { cause: error },
    );
  }
  const cursors = new Map<string, ColumnCursor>();
  for (const node of parquetSchema(metadata).children) {
    const name = node.element.name;
    const columnPieces = (pieces.get(name) ?? []).sort((x, y) => x.rowStart - y.rowStart);
    if (!covers(columnPieces, rowStart, rowEnd)) {
      throw new InvalidFileError(
        'CORRUPT_DATA',
        `${buffer.uri}: column ${name} of row group ${rowGroup} has too few values`,
        { uri: buffer.uri, rowGroup, column: name, rowStart, rowEnd },
      );
    }
    cursors.set(name, new ColumnCursor(columnPieces));
  }
  return cursors;
}

/** True when the pieces follow each other without gaps from `rowStart` or before to `rowEnd` or after. */
function covers(pieces: readonly ColumnData[], rowStart: number, rowEnd: number): boolean {
  const first = pieces[0];
  if (!first || first.rowStart > rowStart) return false;
  let next = first.rowStart;
  for (const piece of pieces) {
    if (piece.rowStart !== next) return false;
    next += piece.columnData.length;
  }
  return next >= rowEnd;
}

/** A details column of one read: its key text, `"name":`, and the JSON text of its last value. */
interface DetailsColumn {
  readonly key: string;
  readonly values: ColumnCursor;
  last: unknown;
  lastText: string;
}

/** The decoded columns of one read, checked and handed out row by row in runs. */
class DecodedColumns {
  readonly #participants: ColumnCursor;
  readonly #matched: ColumnCursor;
  readonly #scores: ColumnCursor;
  readonly #ranks: ColumnCursor | undefined;
  readonly #details: readonly DetailsColumn[];
  readonly #firstRow: number;

  constructor(shape: RowShape, columns: Map<string, ColumnCursor>, firstRow: number) {
    this.#firstRow = firstRow;
    this.#participants = columns.get(MatchColumnName.PARTICIPANT_ID)!;
    this.#matched = columns.get(MatchColumnName.MATCHED_PARTICIPANT_ID)!;
    this.#scores = columns.get(MatchColumnName.COMPATIBILITY_SCORE)!;
    this.#ranks = shape.hasRank ? columns.get(MatchColumnName.RANK) : undefined;
    this.#details = shape.details.map((name) => ({
      key: `${JSON.stringify(name)}:`,
      values: columns.get(name)!,
      last: undefined,
      lastText: '',
    }));
  }

  /** The rows `[from, to)`; runs of one read must be visited in order (the cursors only go forward). */
  run(from: number, to: number): MatchRowRun {
    return { size: to - from, visit: (visitor) => this.#visit(from, to, visitor) };
  }

  #visit(from: number, to: number, visitor: MatchRowVisitor): void {
    for (let row = from; row < to; row++) {
      const participantId = this.#participants.at(row);
      const matchedParticipantId = this.#matched.at(row);
      const score = this.#scores.at(row);
      const rank = this.#ranks?.at(row);
      const problem = firstMatchRowProblem(participantId, matchedParticipantId, score, rank);
      const jobRow = row + this.#firstRow;
      if (problem) {
        const reference = isParticipantId(participantId) ? participantId : null;
        visitor.rejected({
          row: jobRow,
          line: jobRow + 1,
          reference,
          code: problem.code,
          reason: problem.reason,
        });
        continue;
      }
      visitor.valid(
        jobRow,
        participantId as string,
        matchedParticipantId as string,
        score as number,
        matchRank(rank) ?? null,
        this.#detailsJson(row),
      );
    }
  }

  /**
   * The details as JSON text, built from the values without an intermediate object. A value equal to the
   * column's previous one reuses its text: dictionary-encoded columns repeat a few values all along.
   */
  #detailsJson(row: number): string {
    let json = '';
    for (const column of this.#details) {
      const value = column.values.at(row);
      if (value === undefined || value === null) continue;
      if (value !== column.last || typeof value === 'object') {
        column.last = value;
        column.lastText =
          typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(toJsonValue(value));
      }
      json += json === '' ? `{${column.key}${column.lastText}` : `,${column.key}${column.lastText}`;
    }
    return json === '' ? '{}' : `${json}}`;
  }
}
