import { InvalidFileError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { pinOf } from '../storage/object-store.ts';
import { type RowGroupLayout, readParquetFooter } from './footer.ts';
import { resolveMatchColumns } from './match-columns.ts';
import { planRowGroupBatches } from './plan-matches.ts';
import { RangeBuffer } from './range-buffer.ts';
import type { SourcePart } from './source-parts.ts';
import type { MatchBatch, MatchColumn, MatchPlan } from './types.ts';

/** Footers read at once while planning parts: S3 latency, not bandwidth, is what a footer read costs. */
const FOOTER_READS_AT_ONCE = 8;

/** A part of a sharded source as planned: where it is, which version, and where its rows sit in the job. */
export interface PlannedPart extends SourcePart {
  /** Position of the part in the job's part order, 0-based. */
  readonly index: number;
  /** The version the plan read (HEAD): every batch of the part reads it, or fails `SOURCE_CHANGED`. */
  readonly pin: SourcePin;
  /** The job row (0-based, across parts) of the part's first row: the rows of the parts before it. */
  readonly firstRow: number;
  readonly rows: number;
}

/** A plan of the parts of a sharded source: the plan of one file, plus the parts its batches name. */
export interface PartsPlan extends MatchPlan {
  /** Every part, in part order (kept out of the state payload: see `recordJobParts`). */
  readonly parts: readonly PlannedPart[];
}

/** Options of {@link planMatchParts}. */
export interface PlanMatchPartsOptions {
  /** Target rows per batch; raised when a part would otherwise need more than its share of `maxBatches`. */
  readonly maxRowsPerBatch: number;
  /** Most batches in the plan, all parts together. */
  readonly maxBatches: number;
}

interface ReadPart {
  readonly part: SourcePart;
  readonly pin: SourcePin;
  readonly columns: readonly MatchColumn[];
  readonly rowGroups: readonly RowGroupLayout[];
  readonly rows: number;
}

/**
 * Plans the parts of a sharded match source as one job: reads each part's footer (a HEAD and two range
 * reads, {@link FOOTER_READS_AT_ONCE} parts at a time), checks that every part has the first part's columns,
 * numbers the rows across parts in part order, and cuts each part's row groups into batches (a batch never
 * spans two parts). The `maxBatches` are shared by the parts with rows: one each, the rest in proportion to
 * their rows. Holds the row-group layout of every part (not their metadata) until the batches are cut.
 *
 * @throws InvalidFileError `TOO_MANY_PARTS` (more parts with rows than `maxBatches`), `PART_COLUMNS_DIFFER`,
 *   every error of a single file's plan (`NOT_PARQUET`, `MISSING_COLUMN`…, naming the part); the store's.
 */
export async function planMatchParts(
  store: ObjectStore,
  parts: AsyncIterable<SourcePart>,
  opts: PlanMatchPartsOptions,
): Promise<PartsPlan> {
  const read: ReadPart[] = [];
  let pending: SourcePart[] = [];
  const readPending = async (): Promise<void> => {
    read.push(...(await Promise.all(pending.map((part) => readPart(store, part)))));
    pending = [];
  };
  for await (const part of parts) {
    pending.push(part);
    if (pending.length === FOOTER_READS_AT_ONCE) await readPending();
  }
  await readPending();
  const first = read[0];
  if (!first) throw new InvalidFileError('NO_PARTS', 'no Parquet part to plan');
  for (const part of read) checkSameColumns(first, part);
  const withRows = read.filter((part) => part.rows > 0).length;
  if (withRows > opts.maxBatches) {
    throw new InvalidFileError(
      'TOO_MANY_PARTS',
      `${withRows} parts with rows, more than the ${opts.maxBatches} batches a job may have`,
      { parts: withRows, maxBatches: opts.maxBatches },
    );
  }
  const total = read.reduce((sum, part) => sum + part.rows, 0);
  const spare = opts.maxBatches - withRows;
  const planned: PlannedPart[] = [];
  const batches: MatchBatch[] = [];
  let firstRow = 0;
  for (const [index, part] of read.entries()) {
    planned.push({ ...part.part, index, pin: part.pin, firstRow, rows: part.rows });
    if (part.rows > 0) {
      const share = 1 + Math.floor((spare * part.rows) / total);
      const partBatches = planRowGroupBatches(part.rowGroups, {
        maxRowsPerBatch: opts.maxRowsPerBatch,
        maxBatches: share,
      });
      for (const batch of partBatches) {
        batches.push({ ...batch, index: batches.length, part: { index, firstRow } });
      }
    }
    firstRow += part.rows;
  }
  return { columns: first.columns, total, batches, parts: planned };
}

async function readPart(store: ObjectStore, part: SourcePart): Promise<ReadPart> {
  const info = await store.head(part.uri);
  const pin = pinOf(info);
  const footer = await readParquetFooter(new RangeBuffer(store, part.uri, info.size, { pin }));
  return {
    part,
    pin,
    columns: resolveMatchColumns(footer.metadata, part.uri),
    rowGroups: footer.rowGroups,
    rows: footer.total,
  };
}

function checkSameColumns(first: ReadPart, part: ReadPart): void {
  const same =
    part.columns.length === first.columns.length &&
    part.columns.every(
      (column, i) => column.name === first.columns[i]!.name && column.type === first.columns[i]!.type,
    );
  if (!same) {
    throw new InvalidFileError(
      'PART_COLUMNS_DIFFER',
      `part ${part.part.name} has other columns than part ${first.part.name}`,
      { uri: part.part.uri, columns: part.columns, expected: first.columns },
    );
  }
}
