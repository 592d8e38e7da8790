import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type pg from 'pg';
import { FailureBudgetExceededError, SourceChangedError } from '../errors.ts';
import type { BatchResult, ImportExecutionInput, ImportPlan, JobStatusMessage } from '../model/types.ts';
import { METRIC_NAMES, recordJobFinished } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import type { RuntimeDeps } from './deps.ts';
import { rowsSoFar } from './failure-budget.ts';
import { readJobPart } from './job-part-repository.ts';
import { type BatchFailure, type WrittenList, writeFailedReport, writeSuccessReport } from './job-reports.ts';
import { completeJob } from './job-repository.ts';
import type { MatchImportPlan } from './plan-matches.ts';
import { publishStatus, type StatusRecorder } from './publish-status.ts';
import { removedCount } from './removal-repository.ts';
import { accountRows, importStatus, rowFailureReason } from './row-accounting.ts';
import { recordStatusEvent } from './status-event-repository.ts';
import { buildStatusMessage } from './status-message.ts';

/** Input of the finalize step: the execution input with the plan (of its kind) and every batch's result. */
export interface FinalizeInput extends ImportExecutionInput {
  readonly plan: ImportPlan | MatchImportPlan;
  readonly results: readonly BatchResult[];
}

/** Records each delivery of a job's status message in `job_status_events`. */
export function statusRecorder(pool: pg.Pool, jobId: string): StatusRecorder {
  return async (destination, message, delivery) => {
    await recordStatusEvent(pool, jobId, destination, message, delivery);
  };
}

/**
 * Aggregates the batches, writes the complete success and failed lists, marks the job COMPLETED or FAILED,
 * then publishes the status message (Kafka, EventBridge) and records its delivery. COMPLETED needs every
 * batch loaded and failed rows within the tolerated percentage (0 by default: every row). The job is final
 * before anything is published: a message that cannot be delivered is dead-lettered, and the step succeeds.
 *
 * Match imports report counts only: no success list (a file of the matching engine's own pairs, up to
 * millions, would cost a second copy of the table for no reader; `processed` counts them and the rows are
 * in `match_suggestions` with `last_job_id`). Their failed list names rows as `row:<n>` (0-based index).
 *
 * @throws SourceChangedError when a batch found the source changed since the plan (for a sharded source,
 *   naming the parts): the job fails with `SOURCE_CHANGED` through the fail step, whatever the other
 *   batches loaded.
 */
export async function finalizeImport(deps: RuntimeDeps, input: FinalizeInput): Promise<JobStatusMessage> {
  const changed = input.results.filter((result) => result.error === SourceChangedError.name);
  if (changed.length > 0) throw await sourceChanged(deps, input, changed);
  const { config, pool } = deps;
  const log = logJob(input);
  const totals = { processed: 0, inserted: 0, failed: 0, duplicates: 0, stale: 0 };
  const succeeded: number[] = [];
  const batchFailures: BatchFailure[] = [];
  for (const result of input.results) {
    if (result.status === 'SUCCEEDED') {
      succeeded.push(result.index);
      totals.processed += result.inserted + result.updated;
      totals.inserted += result.inserted;
      totals.failed += result.failed;
      totals.duplicates += result.duplicates;
      totals.stale += result.stale ?? 0;
    } else {
      batchFailures.push(batchFailure(input.plan, result));
    }
  }
  const total = input.plan.total;
  // Batches stopped by the failure budget: the job fails with every row its DB batches committed so far.
  const overBudget = input.results.some((result) => result.error === FailureBudgetExceededError.name);
  if (overBudget) {
    const sofar = await rowsSoFar(pool, input.jobId);
    Object.assign(totals, {
      processed: sofar.written,
      failed: sofar.failed,
      duplicates: sofar.duplicates,
      stale: sofar.stale,
    });
    batchFailures.length = 0;
  }
  const outcomes = {
    succeeded: totals.processed,
    failed: totals.failed,
    duplicates: totals.duplicates,
    stale: totals.stale,
  };
  // A batch that failed as a whole reports no rows (the job fails with it): the rule holds only when every
  // batch loaded, and then a mismatch is a row lost between the plan and the loaders.
  const account =
    batchFailures.length === 0 && !overBudget ? accountRows(total, outcomes) : { total, ...outcomes };
  const status = overBudget
    ? 'FAILED'
    : importStatus(account, config.toleratedFailurePercent, batchFailures.length);
  const matches = input.kind === 'matches';
  const success: WrittenList | undefined = matches
    ? undefined
    : await writeSuccessReport(deps, input.jobId, succeeded, config.statusListCap);
  const failed =
    totals.failed > 0 || batchFailures.length > 0
      ? await writeFailedReport(deps, input.jobId, batchFailures, config.statusListCap, input.kind)
      : undefined;
  const failureReason =
    status === 'COMPLETED'
      ? undefined
      : batchFailures.length > 0
        ? batchFailures.map((failure) => failure.reason).join('; ')
        : overBudget
          ? `${rowFailureReason(account)} before the job was stopped: past its failure budget`
          : rowFailureReason(account);
  const job = await completeJob(pool, input.jobId, {
    status,
    total,
    processed: totals.processed,
    successCount: totals.processed,
    failedCount: totals.failed,
    duplicateCount: totals.duplicates,
    staleCount: totals.stale,
    ...(failureReason ? { failureReason } : {}),
    ...(success ? { successListUri: success.uri } : {}),
    ...(failed ? { failedListUri: failed.uri } : {}),
  });
  const message = buildStatusMessage(job, {
    ...(input.removals ? { removed: await removedCount(pool, input.jobId) } : {}),
    successList: success?.first ?? [],
    failedList: failed?.first ?? [],
    ...(success ? { successListUri: success.uri } : {}),
    ...(failed ? { failedListUri: failed.uri } : {}),
    counts: {
      new: totals.inserted,
      updated: totals.processed - totals.inserted,
      duplicates: totals.duplicates,
      failed: totals.failed,
      stale: totals.stale,
    },
  });
  await publishStatus(deps.status, statusRecorder(pool, input.jobId), message);
  const seconds = (Date.parse(message.finishedAt) - Date.parse(message.startedAt)) / 1000;
  recordJobFinished(input.kind, message.status, seconds);
  if (matches) {
    metrics.addMetric(METRIC_NAMES.matchJobDuration, MetricUnit.Milliseconds, seconds * 1000);
    if (batchFailures.length > 0) {
      metrics.addMetric(METRIC_NAMES.matchStorageErrors, MetricUnit.Count, batchFailures.length);
    }
  } else {
    metrics.addMetric(METRIC_NAMES.nodeJobDuration, MetricUnit.Milliseconds, seconds * 1000);
    metrics.addMetric(
      status === 'COMPLETED' ? METRIC_NAMES.nodeJobsCompleted : METRIC_NAMES.nodeJobsFailed,
      MetricUnit.Count,
      1,
    );
  }
  log.info('finalized import', { status, total, ...totals, failedBatches: batchFailures.length });
  return message;
}

/** Most changed parts a SOURCE_CHANGED failure names. */
const CHANGED_PARTS_NAMED = 10;

/**
 * The failure of a job whose batches found their source changed: naming the source, or for a sharded source
 * the parts those batches read (only the error's name travels in the state, so they are looked up).
 */
async function sourceChanged(
  deps: RuntimeDeps,
  input: FinalizeInput,
  changed: readonly BatchResult[],
): Promise<SourceChangedError> {
  const uri = input.source.uri;
  const partIndexes = new Set<number>();
  for (const result of changed) {
    const batch = input.plan.batches.find((candidate) => candidate.index === result.index);
    if (batch && 'part' in batch && batch.part) partIndexes.add(batch.part.index);
  }
  if (partIndexes.size === 0) {
    return new SourceChangedError(`the source changed after the job was planned: ${uri}`, { uri });
  }
  const parts: string[] = [];
  for (const index of [...partIndexes].slice(0, CHANGED_PARTS_NAMED)) {
    parts.push((await readJobPart(deps.pool, input.jobId, index)).uri);
  }
  const more = partIndexes.size > parts.length ? ` and ${partIndexes.size - parts.length} more` : '';
  return new SourceChangedError(
    `parts of ${uri} changed after the job was planned: ${parts.join(', ')}${more}`,
    { uri, parts },
  );
}

/** A batch that failed as a whole after its retries, located by its first line (CSV) or row (Parquet). */
function batchFailure(plan: ImportPlan | MatchImportPlan, result: BatchResult): BatchFailure {
  // Only the error's name travels in the state; its cause is in the execution's and the function's logs.
  const why = `${result.error ?? 'error'} (the cause is in the execution's log)`;
  const batch = plan.batches.find((candidate) => candidate.index === result.index);
  if (batch && 'rowStart' in batch) {
    // A part's batch: its rows are the part's; the line is the job's, numbered across parts.
    const of = batch.part ? ` of part ${batch.part.index}` : '';
    return {
      line: (batch.part?.firstRow ?? 0) + batch.rowStart + 1,
      code: 'BATCH_FAILED',
      reason: `batch ${result.index} (rows ${batch.rowStart} to ${batch.rowEnd - 1}${of}, row groups ${batch.rowGroups.join(
        ' ',
      )}) failed: ${why}`,
    };
  }
  return {
    line: batch?.firstLine ?? 0,
    code: 'BATCH_FAILED',
    reason: `batch ${result.index} (${batch?.records ?? '?'} records from line ${batch?.firstLine ?? '?'}) failed: ${why}`,
  };
}

/**
 * The human part of a Step Functions error cause: Lambda wraps errors as JSON
 * (`{"errorType","errorMessage",…}`); the local runner passes the message itself.
 */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return 'no cause given';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is the message itself
  }
  return cause;
}
