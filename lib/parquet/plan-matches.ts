import type { SourcePin } from '../model/types.ts';
import type { ByteRange, ObjectStore } from '../storage/object-store.ts';
import { type RowGroupLayout, readParquetFooter } from './footer.ts';
import { resolveMatchColumns } from './match-columns.ts';
import { openRangeBuffer } from './range-buffer.ts';
import type { MatchBatch, MatchPlan } from './types.ts';

/** Options of {@link planMatchFile}. */
export interface PlanMatchFileOptions {
  /** Target rows per batch; raised when the file would otherwise need more than `maxBatches`. */
  readonly maxRowsPerBatch: number;
  /** Most batches in a plan. */
  readonly maxBatches: number;
  /** Called after each range read (metrics, tests). */
  readonly onRead?: (range: ByteRange) => void;
  /** The version of the file to plan (its reads are pinned to it). */
  readonly pin?: SourcePin | undefined;
}

/**
 * Plans the import of a Parquet match file from its footer alone (one HEAD and two range reads: the last
 * 8 bytes, then the footer): checks the columns, then cuts the rows into batches of whole row groups, a
 * row group larger than a batch being split by row range into parts of near-equal size.
 * The plan holds no data and grows with `maxBatches` and the number of columns only.
 *
 * @throws InvalidFileError from the footer (`EMPTY_FILE`, `NOT_PARQUET`, `TRUNCATED_FOOTER`,
 *   `CORRUPT_FOOTER`, `UNSUPPORTED_PARQUET`, `UNSUPPORTED_CODEC`) and the columns (`MISSING_COLUMN`,
 *   `WRONG_COLUMN_TYPE`, `DUPLICATE_COLUMN`, `UNSUPPORTED_COLUMN_TYPE`, `TOO_MANY_COLUMNS`);
 *   the store's errors (`FILE_NOT_FOUND`, StorageUnavailableError…).
 */
export async function planMatchFile(
  store: ObjectStore,
  uri: string,
  opts: PlanMatchFileOptions,
): Promise<MatchPlan> {
  requireInteger('maxRowsPerBatch', opts.maxRowsPerBatch, 1);
  requireInteger('maxBatches', opts.maxBatches, 1);
  const buffer = await openRangeBuffer(store, uri, {
    ...(opts.onRead ? { onRead: opts.onRead } : {}),
    pin: opts.pin,
  });
  const footer = await readParquetFooter(buffer);
  const columns = resolveMatchColumns(footer.metadata, uri);
  return { columns, total: footer.total, batches: planRowGroupBatches(footer.rowGroups, opts) };
}

/**
 * Cuts row groups into at most `maxBatches` batches of at most `target` rows each, where `target` starts at
 * `max(maxRowsPerBatch, ceil(rows / maxBatches))` and grows until the batches fit in `maxBatches`.
 * Consecutive whole row groups share a batch while they fit; a row group with more rows than `target` is
 * split into `ceil(rows / target)` parts of near-equal size, each a batch of its own.
 * Row groups without rows are left out.
 */
export function planRowGroupBatches(
  rowGroups: readonly RowGroupLayout[],
  opts: Pick<PlanMatchFileOptions, 'maxRowsPerBatch' | 'maxBatches'>,
): MatchBatch[] {
  requireInteger('maxRowsPerBatch', opts.maxRowsPerBatch, 1);
  requireInteger('maxBatches', opts.maxBatches, 1);
  const groups = rowGroups.filter((group) => group.rows > 0);
  const total = groups.reduce((sum, group) => sum + group.rows, 0);
  if (total === 0) return [];
  let target = Math.max(opts.maxRowsPerBatch, Math.ceil(total / opts.maxBatches));
  for (;;) {
    const cuts = cutRows(groups, target);
    if (cuts.length <= opts.maxBatches) return cuts.map((cut, index) => toBatch(cut, index));
    // Greedy packing can leave batches half full; retry with a larger target until they fit.
    target = Math.max(target + 1, Math.ceil((target * cuts.length) / opts.maxBatches));
  }
}

interface Cut {
  readonly rowStart: number;
  readonly rowEnd: number;
  readonly groups: readonly RowGroupLayout[];
}

function cutRows(groups: readonly RowGroupLayout[], target: number): Cut[] {
  const cuts: Cut[] = [];
  let open: RowGroupLayout[] = [];
  let openRows = 0;
  const close = (): void => {
    if (open.length === 0) return;
    const first = open[0]!;
    cuts.push({ rowStart: first.rowStart, rowEnd: first.rowStart + openRows, groups: open });
    open = [];
    openRows = 0;
  };
  for (const group of groups) {
    if (group.rows > target) {
      close();
      const parts = Math.ceil(group.rows / target);
      const base = Math.floor(group.rows / parts);
      const longer = group.rows % parts;
      let rowStart = group.rowStart;
      for (let part = 0; part < parts; part++) {
        const rowEnd = rowStart + base + (part < longer ? 1 : 0);
        cuts.push({ rowStart, rowEnd, groups: [group] });
        rowStart = rowEnd;
      }
    } else {
      if (openRows + group.rows > target) close();
      open.push(group);
      openRows += group.rows;
    }
  }
  close();
  return cuts;
}

function toBatch(cut: Cut, index: number): MatchBatch {
  const ranges: ByteRange[] = [];
  for (const group of cut.groups) {
    ranges.push(group.data);
    if (group.offsetIndex) ranges.push(group.offsetIndex);
  }
  return {
    index,
    rowStart: cut.rowStart,
    rowEnd: cut.rowEnd,
    rowGroups: cut.groups.map((group) => group.index),
    byteRanges: coalesce(ranges),
  };
}

/** Sorted ranges with overlapping and touching ones merged. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: { start: number; end: number }[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ start: range.start, end: range.end });
  }
  return merged;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
}
