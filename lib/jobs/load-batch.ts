import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { stageCsvRange } from '../csv/parse-range.ts';
import type { BatchIdentity, BatchResult, CsvBatch, JobRef, LoadCounts, SourcePin } from '../model/types.ts';
import { loadStagedNodes } from '../nodes/load-nodes.ts';
import { csvStageLayout } from '../nodes/node-repository.ts';
import { METRIC_NAMES, recordJobProgress, recordNodeStorageError } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { getCompletedBatch, recordCompletedBatch } from './batch-repository.ts';
import type { RuntimeDeps } from './deps.ts';
import { checkFailureBudget } from './failure-budget.ts';
import { readJobProgress } from './job-progress.ts';

/** Input of one Map iteration: the job, the header resolved by the plan, and one batch. */
export interface LoadBatchInput extends JobRef {
  readonly header: readonly string[];
  readonly referenceColumn: number;
  /** Rows per database transaction, chosen by the plan. */
  readonly dbBatchRows: number;
  readonly batch: CsvBatch;
  /** The version of the source the plan read (null for staged parts); absent in inputs from before pins. */
  readonly pin?: SourcePin | null;
  /** A dry run: every DB batch rolls its target writes back (absent in inputs from before dry runs). */
  readonly dryRun?: boolean;
}

/** Where a batch records the references it wrote, for the job's success list (sorted within each DB batch). */
export function batchSuccessUri(deps: Pick<RuntimeDeps, 'config'>, jobId: string, index: number): string {
  return pipelineObjectUri(
    deps.config,
    'staging',
    jobId,
    'success',
    `batch-${String(index).padStart(5, '0')}.txt`,
  );
}

/**
 * Loads one batch: streams its byte range, parses and validates rows, and upserts them in DB batches.
 * A batch that completed before returns its recorded result; re-running one that did not is safe: the
 * upsert is idempotent for the same job and line, rejections are unique per line, the success file is
 * rewritten whole, and each DB batch committed before reports the counts recorded with it.
 */
export function loadBatch(
  deps: RuntimeDeps,
  input: LoadBatchInput,
  signal: AbortSignal,
): Promise<BatchResult> {
  const { batch } = input;
  // A .csv.gz re-planned writes its parts again: the lines they start at and hold tell them apart too.
  const key = `${batch.uri}#bytes=${batch.start}-${batch.end};lines=${batch.firstLine}+${batch.records}`;
  const identity = { index: batch.index, key };
  return oncePerBatch(deps, input, identity, () => loadRange(deps, input, identity, signal));
}

async function loadRange(
  deps: RuntimeDeps,
  input: LoadBatchInput,
  identity: BatchIdentity,
  signal: AbortSignal,
): Promise<BatchResult> {
  const { config, pool, store } = deps;
  const { batch } = input;
  const log = logJob(input);
  const started = Date.now();
  await checkFailureBudget(pool, input.jobId, config.toleratedFailurePercent);
  const bytes = await store.read(batch.uri, { start: batch.start, end: batch.end }, input.pin ?? undefined);
  const rows = stageCsvRange(bytes, {
    header: input.header,
    referenceColumn: input.referenceColumn,
    firstLine: batch.firstLine,
    maxRecordBytes: config.maxRecordBytes,
    maxBlockRecords: input.dbBatchRows,
  });
  const successes = new PassThrough();
  const written = store.write(batchSuccessUri(deps, input.jobId, batch.index), successes, {
    contentType: 'text/plain',
  });
  let counts: LoadCounts;
  try {
    counts = await loadStagedNodes(pool, input, rows, csvStageLayout(input.header, input.referenceColumn), {
      dbBatchRows: input.dbBatchRows,
      signal,
      batch: identity,
      dryRun: input.dryRun === true,
      onCommitted: async ({ references }) => {
        await checkFailureBudget(pool, input.jobId, config.toleratedFailurePercent);
        if (references.length === 0) return;
        if (!successes.write(`${references.join('\n')}\n`)) await once(successes, 'drain');
      },
    });
    successes.end();
    await written;
  } catch (error) {
    recordNodeStorageError();
    successes.destroy(error as Error);
    await written.catch(() => undefined);
    bytes.destroy();
    throw error;
  }
  const durationMs = Date.now() - started;
  metrics.addMetric(METRIC_NAMES.nodeBatchDuration, MetricUnit.Milliseconds, durationMs);
  metrics.addMetric(METRIC_NAMES.nodesWritten, MetricUnit.Count, counts.inserted + counts.updated);
  metrics.addMetric(METRIC_NAMES.nodeConflictUpdates, MetricUnit.Count, counts.updated);
  metrics.addMetric(METRIC_NAMES.nodeRowFailures, MetricUnit.Count, counts.failed);
  log.info('loaded batch', { batch: batch.index, ...counts, durationMs });
  return batchSucceeded(batch.index, counts);
}

/**
 * Runs a batch once per job: a batch whose completion is recorded returns the recorded result without
 * loading anything (a retried Lambda that had finished, a redrive, the same job run again); otherwise
 * `load` runs, and its result is recorded once it has committed everything.
 */
export async function oncePerBatch(
  deps: Pick<RuntimeDeps, 'pool'>,
  job: JobRef,
  batch: BatchIdentity,
  load: () => Promise<BatchResult>,
): Promise<BatchResult> {
  const done = await getCompletedBatch(deps.pool, job.jobId, batch);
  if (done) {
    logJob(job).info('batch already completed: its recorded result stands', { batch: batch.index });
    return done;
  }
  const started = Date.now();
  const result = await load();
  const recorded = await recordCompletedBatch(deps.pool, job.jobId, batch, result, Date.now() - started);
  const read = await readJobProgress(deps.pool, job.jobId);
  if (read) recordJobProgress(job.kind, job.jobId, read.progress.percentage);
  return recorded;
}

/** The Map's result of a batch that loaded: its counts (failed rows included in `rows`). */
export function batchSucceeded(index: number, counts: LoadCounts): BatchResult {
  return {
    index,
    status: 'SUCCEEDED',
    rows: counts.rows + counts.failed,
    inserted: counts.inserted,
    updated: counts.updated,
    duplicates: counts.duplicates,
    failed: counts.failed,
    stale: counts.stale,
  };
}
