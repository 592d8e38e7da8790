import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { loadMatches } from '../matches/load-matches.ts';
import type { BatchIdentity, BatchResult, JobRef, SourcePin } from '../model/types.ts';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import { readMatchRuns } from '../parquet/read-matches.ts';
import type { MatchBatch, MatchColumn } from '../parquet/types.ts';
import type { RuntimeDeps } from './deps.ts';
import { readJobPart } from './job-part-repository.ts';
import { batchSucceeded, oncePerBatch } from './load-batch.ts';

/** Input of one Map iteration of a match import: the job, the file, the plan's columns and one batch. */
export interface LoadMatchBatchInput extends JobRef {
  readonly uri: string;
  readonly columns: readonly MatchColumn[];
  /** Rows per database transaction, chosen by the plan. */
  readonly dbBatchRows: number;
  readonly batch: MatchBatch;
  /** A dry run: every DB batch rolls its target writes back (absent in inputs from before dry runs). */
  readonly dryRun?: boolean;
  /**
   * The version of the file the plan read (absent in inputs from before pins); for a sharded source, the
   * digest of its parts, unused here: a batch of a part reads the part's own recorded pin.
   */
  readonly pin?: SourcePin;
}

/** What a batch reads: the file, or its part of a sharded source. */
interface BatchSource {
  readonly uri: string;
  readonly pin: SourcePin | undefined;
  /** The job row of the file's first row. */
  readonly firstRow: number;
}

/**
 * Loads one batch of a match file: reads only its row groups' byte ranges (and the footer), streams the
 * decoded rows into `match_suggestions` in DB batches, and records failed rows by row index. A batch that
 * completed before returns its recorded result; re-running one that did not is safe: the upsert is
 * idempotent for the same job and row, rejections are unique per row, and each DB batch committed before
 * reports the counts recorded with it.
 *
 * A batch of a part of a sharded source reads the part recorded with the job under its index, pinned to the
 * version the plan read; its rows are numbered in the job (the part's first row + the row in the part).
 */
export async function loadMatchBatch(
  deps: RuntimeDeps,
  input: LoadMatchBatchInput,
  signal: AbortSignal,
): Promise<BatchResult> {
  const { batch } = input;
  const source: BatchSource = batch.part
    ? { ...(await readJobPart(deps.pool, input.jobId, batch.part.index)), firstRow: batch.part.firstRow }
    : { uri: input.uri, pin: input.pin, firstRow: 0 };
  const identity = { index: batch.index, key: `${source.uri}#rows=${batch.rowStart}-${batch.rowEnd}` };
  return oncePerBatch(deps, input, identity, () => loadRowGroups(deps, input, source, identity, signal));
}

async function loadRowGroups(
  deps: RuntimeDeps,
  input: LoadMatchBatchInput,
  source: BatchSource,
  identity: BatchIdentity,
  signal: AbortSignal,
): Promise<BatchResult> {
  const { pool, store } = deps;
  const { batch } = input;
  const started = Date.now();
  const runs = readMatchRuns(store, source.uri, batch, input.columns, {
    pin: source.pin,
    firstRow: source.firstRow,
  });
  let counts: Awaited<ReturnType<typeof loadMatches>>;
  try {
    counts = await loadMatches(pool, input, runs, {
      dbBatchRows: input.dbBatchRows,
      signal,
      batch: identity,
      dryRun: input.dryRun === true,
    });
  } catch (error) {
    metrics.addMetric(METRIC_NAMES.matchStorageErrors, MetricUnit.Count, 1);
    throw error;
  }
  const durationMs = Date.now() - started;
  metrics.addMetric(METRIC_NAMES.matchBatchDuration, MetricUnit.Milliseconds, durationMs);
  metrics.addMetric(METRIC_NAMES.matchesWritten, MetricUnit.Count, counts.inserted + counts.updated);
  if (counts.failed > 0) {
    metrics.addMetric(METRIC_NAMES.matchStorageErrors, MetricUnit.Count, counts.failed);
  }
  logJob(input).info('loaded match batch', {
    batch: batch.index,
    ...(batch.part ? { part: batch.part.index, uri: source.uri } : {}),
    rowGroups: batch.rowGroups,
    ...counts,
    durationMs,
  });
  return batchSucceeded(batch.index, counts);
}
