import type { CsvBatch, CsvPlan } from '../model/types.ts';
import { RangePlanner, requireInteger } from './range-planner.ts';

/** Options of {@link planCsvRanges}. */
export interface PlanCsvRangesOptions {
  /** Object the ranges refer to; copied into every batch. */
  readonly uri: string;
  /** Size of the object in bytes (from HEAD): sets the range size with `maxBatches`. */
  readonly size: number;
  /** Smallest range worth a batch, in bytes. */
  readonly splitBytes: number;
  /** Most batches in a plan. */
  readonly maxBatches: number;
  /** Longest record accepted, in bytes. */
  readonly maxRecordBytes: number;
}

/**
 * Plans a plain CSV object read once, sequentially: reads and resolves the header (after an optional
 * UTF-8 BOM), then cuts the data into byte ranges of about `max(splitBytes, ceil(size / maxBatches))`
 * bytes, each starting on the first byte of its first record and ending where the next range starts (the
 * last one at the end of the data). Blank lines between ranges belong to the range before. Memory is
 * bounded by one record and the batch descriptors (at most `maxBatches`).
 *
 * @throws InvalidFileError `EMPTY_FILE`, `INVALID_HEADER`, `NO_REFERENCE_COLUMN`, `DUPLICATE_COLUMN`,
 *   `EMPTY_HEADER_NAME`, `RECORD_TOO_LARGE`.
 */
export async function planCsvRanges(
  source: AsyncIterable<Buffer>,
  opts: PlanCsvRangesOptions,
): Promise<CsvPlan> {
  requireInteger('size', opts.size, 0);
  requireInteger('splitBytes', opts.splitBytes, 1);
  requireInteger('maxBatches', opts.maxBatches, 1);
  requireInteger('maxRecordBytes', opts.maxRecordBytes, 1);
  const planner = new RangePlanner({
    targetBytes: Math.max(opts.splitBytes, Math.ceil(opts.size / opts.maxBatches)),
    maxRanges: opts.maxBatches,
    maxRecordBytes: opts.maxRecordBytes,
  });
  for await (const chunk of source) {
    planner.write(chunk);
    planner.takeOpened();
  }
  planner.end();
  const { header, referenceColumn } = planner.resolvedHeader;
  const batches = planner.ranges.map(
    (range, index): CsvBatch => ({
      index,
      uri: opts.uri,
      start: range.start,
      end: range.end,
      firstLine: range.firstLine,
      records: range.records,
    }),
  );
  return { header, referenceColumn, total: planner.total, batches };
}
