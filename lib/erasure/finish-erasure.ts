import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { type FailImportInput, failImport } from '../jobs/fail-import.ts';
import { statusRecorder } from '../jobs/finalize-import.ts';
import { completeJob } from '../jobs/job-repository.ts';
import { publishStatus } from '../jobs/publish-status.ts';
import { accountRows, importStatus } from '../jobs/row-accounting.ts';
import { buildStatusMessage } from '../jobs/status-message.ts';
import type { BatchResult, ErasureExecutionInput, ImportPlan, JobStatusMessage } from '../model/types.ts';
import { METRIC_NAMES, recordJobFinished } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { eraseObjects } from './erase-objects.ts';
import { dropErasureReferences, finishErasureRecord } from './erasure-repository.ts';
import { erasureScope } from './plan-erasure.ts';

/** Input of the erasure's finalize step: the execution input, the plan and every batch's result. */
export interface FinalizeErasureInput extends ErasureExecutionInput {
  readonly plan: ImportPlan;
  readonly results: readonly BatchResult[];
}

/** Input of the erasure's catch-all: the state at the failure, with the caught error. */
export type FailErasureInput = FailImportInput & ErasureExecutionInput;

/** Ids forgotten per transaction once the erasure is done. */
const FORGET_ROWS = 10_000;

/**
 * Last step of an erasure: removes the erased ids from the objects Matchbridge wrote, forgets the ids
 * (its working list in the database and its staged list), closes the erasure record, marks the job and
 * publishes its status message. The message names no reference: its lists stay empty, its counts say how
 * many ids were erased (`processed`) of how many asked (`total`).
 */
export async function finalizeErasure(
  deps: RuntimeDeps,
  input: FinalizeErasureInput,
): Promise<JobStatusMessage> {
  const { config, pool, store } = deps;
  const scope = erasureScope(input);
  const batchesFailed = input.results.filter((result) => result.status !== 'SUCCEEDED').length;
  const erased = input.results.reduce((sum, result) => sum + result.updated, 0);
  const failed = input.results.reduce((sum, result) => sum + result.failed, 0);
  const account =
    batchesFailed === 0
      ? accountRows(input.plan.total, { succeeded: erased, failed, duplicates: 0 })
      : { total: input.plan.total, succeeded: erased, failed, duplicates: 0, stale: 0 };
  const status = importStatus(account, config.toleratedFailurePercent, batchesFailed);
  // Objects are cleaned even when a batch failed: what the other batches erased must not linger in them.
  const objects = await eraseObjects(deps, scope);
  await dropErasureReferences(pool, input.jobId, FORGET_ROWS);
  await store.remove(pipelineObjectUri(config, 'staging', input.jobId));
  await finishErasureRecord(pool, input.jobId, status, { ...objects });
  const failureReason =
    status === 'COMPLETED'
      ? undefined
      : batchesFailed > 0
        ? `${batchesFailed} of ${input.results.length} erase batches failed (the causes are in the execution's log)`
        : `${failed} of ${account.total} ids are not reference ids`;
  const job = await completeJob(pool, input.jobId, {
    status,
    total: account.total,
    processed: erased,
    successCount: erased,
    failedCount: failed,
    duplicateCount: 0,
    ...(failureReason ? { failureReason } : {}),
  });
  const message = buildStatusMessage(job, { successList: [], failedList: [] });
  await publishStatus(deps.status, statusRecorder(pool, input.jobId), message);
  recordJobFinished(
    'erasure',
    message.status,
    (Date.parse(message.finishedAt) - Date.parse(message.startedAt)) / 1000,
  );
  metrics.addMetric(METRIC_NAMES.referencesErased, MetricUnit.Count, erased);
  logJob(input).info('finalized erasure', { status, total: account.total, erased, failed, ...objects });
  return message;
}

/**
 * Catch-all of the erasure state machine: the job fails as any import's does, the erasure record says
 * FAILED, and the working list of ids is forgotten (a new erasure starts from the request again).
 */
export async function failErasure(deps: RuntimeDeps, input: FailErasureInput): Promise<JobStatusMessage> {
  await dropErasureReferences(deps.pool, input.jobId, FORGET_ROWS);
  await finishErasureRecord(deps.pool, input.jobId, 'FAILED');
  return failImport(deps, input);
}
