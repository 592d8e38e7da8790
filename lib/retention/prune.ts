import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { DeadlineExceededError } from '../errors.ts';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logger, metrics } from '../observability/logger.ts';
import {
  type Cutoffs,
  countPrunable,
  deleteJobErrorSlice,
  deleteJobRows,
  deleteSlice,
  type JobCursor,
  nextPrunableJobs,
  PRUNED_TABLES,
  type SlicedTable,
  type TableCounts,
} from './retention-repository.ts';

/** Rows one statement deletes at most: short transactions, locks held briefly, memory flat. */
export const PRUNE_SLICE_ROWS = 5000;
/** Jobs listed at a time. */
const JOB_PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What a prune is asked to do. */
export interface PruneOptions {
  /** One age, in days, for every kind instead of each kind's setting (API idempotency keys keep theirs). */
  readonly olderThanDays?: number;
  /** Count what would go, delete nothing. */
  readonly dryRun: boolean;
  /** The instant ages are measured from (default: now). */
  readonly now?: Date;
  /** Rows per statement (default {@link PRUNE_SLICE_ROWS}). */
  readonly sliceRows?: number;
  /** Stops before the next slice once aborted (the Lambda deadline): what is deleted stays deleted. */
  readonly signal?: AbortSignal;
}

/** The outcome, as `prune --json` prints it: rows deleted (or that would be) per table. */
export interface PruneResult {
  readonly dryRun: boolean;
  /** The age given with `--older-than`, or null when each kind's setting applied. */
  readonly olderThanDays: number | null;
  readonly deleted: Record<string, number>;
}

/** The retention settings prune reads. */
export type RetentionConfig = Pick<
  Config,
  'retentionImportJobsDays' | 'retentionMatchJobsDays' | 'retentionExportRunsDays'
>;

/** The cutoffs of a prune at `now`: each kind's setting, or one age for all. */
export function pruneCutoffs(
  config: RetentionConfig,
  options: Pick<PruneOptions, 'olderThanDays' | 'now'>,
): Cutoffs {
  const now = options.now ?? new Date();
  const before = (days: number) => new Date(now.getTime() - (options.olderThanDays ?? days) * DAY_MS);
  return {
    importJobs: before(config.retentionImportJobsDays),
    matchJobs: before(config.retentionMatchJobsDays),
    exportRuns: before(config.retentionExportRunsDays),
    now,
  };
}

/**
 * Deletes what Matchbridge no longer needs from PostgreSQL: import jobs finished before their kind's
 * retention (match jobs after `retentionMatchJobsDays`, the others after `retentionImportJobsDays`) with
 * their errors, batch records and status events; export runs after `retentionExportRunsDays`, with the
 * removal tombstones the export has sent; API idempotency keys past their lifetime. A job that is not
 * final is never touched. Every statement deletes at most `sliceRows` rows in its own short transaction,
 * so it is safe while imports run, holds one slice in memory, and a prune stopped part-way (or run twice)
 * leaves a consistent database for the next one. A dry run counts instead, in one read-only statement.
 */
export async function prune(
  pool: pg.Pool,
  config: RetentionConfig,
  options: PruneOptions,
): Promise<PruneResult> {
  const cutoffs = pruneCutoffs(config, options);
  const olderThanDays = options.olderThanDays ?? null;
  if (options.dryRun) {
    return { dryRun: true, olderThanDays, deleted: { ...(await countPrunable(pool, cutoffs)) } };
  }
  const slice = options.sliceRows ?? PRUNE_SLICE_ROWS;
  const deleted: TableCounts = Object.fromEntries(PRUNED_TABLES.map((t) => [t, 0])) as TableCounts;
  const check = () => {
    if (options.signal?.aborted) {
      throw new DeadlineExceededError('prune stopped before the invocation deadline', { deleted });
    }
  };
  const started = Date.now();
  try {
    await deletePrunable(pool, cutoffs, slice, deleted, check);
  } finally {
    // Also when the deadline stops it part-way: what it deleted stays deleted.
    metrics.addMetric(
      METRIC_NAMES.rowsPruned,
      MetricUnit.Count,
      Object.values(deleted).reduce((sum, n) => sum + n, 0),
    );
  }
  logger.info('pruned', { deleted, olderThanDays, durationMs: Date.now() - started });
  return { dryRun: false, olderThanDays, deleted: { ...deleted } };
}

/** Deletes, slice by slice, what is past its cutoff, adding to `deleted`; `check` runs before each slice. */
async function deletePrunable(
  pool: pg.Pool,
  cutoffs: Cutoffs,
  slice: number,
  deleted: TableCounts,
  check: () => void,
): Promise<void> {
  let after: JobCursor | null = null;
  for (;;) {
    const jobs = await nextPrunableJobs(pool, cutoffs, after, JOB_PAGE);
    for (const job of jobs) {
      let afterLine = Number.MIN_SAFE_INTEGER;
      for (;;) {
        check();
        const { deleted: rows, lastLine } = await deleteJobErrorSlice(
          pool,
          cutoffs,
          job.id,
          afterLine,
          slice,
        );
        deleted.import_job_errors += rows;
        if (rows < slice || lastLine === null) break;
        afterLine = lastLine;
      }
      check();
      const rows = await deleteJobRows(pool, cutoffs, job.id);
      for (const [table, n] of Object.entries(rows)) deleted[table as keyof TableCounts] += n;
    }
    if (jobs.length < JOB_PAGE) break;
    after = jobs[jobs.length - 1] ?? null;
  }
  for (const table of ['export_jobs', 'user_removals', 'api_idempotency_keys'] as SlicedTable[]) {
    for (;;) {
      check();
      const rows = await deleteSlice(pool, table, cutoffs, slice);
      deleted[table] += rows;
      if (rows < slice) break;
    }
  }
}
