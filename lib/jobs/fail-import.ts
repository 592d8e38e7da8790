import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { jobFailureOfStep } from '../errors.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../model/types.ts';
import { METRIC_NAMES, recordJobFinished, recordNodeStorageError } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import type { RuntimeDeps } from './deps.ts';
import { causeMessage, statusRecorder } from './finalize-import.ts';
import { failJob } from './job-repository.ts';
import { publishStatus } from './publish-status.ts';
import { buildStatusMessage } from './status-message.ts';

/** Input of the catch-all step: the state at the failure, with the caught error. */
export interface FailImportInput extends ImportExecutionInput {
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

/**
 * Marks the job FAILED with the reason of the error that ended its execution, unless it already reached a
 * final state, then publishes the status message and records its delivery (as finalize does).
 */
export async function failImport(deps: RuntimeDeps, input: FailImportInput): Promise<JobStatusMessage> {
  const name = input.error?.Error ?? 'Error';
  const cause = causeMessage(input.error?.Cause);
  const reason = `${name}: ${cause}`;
  const job = await failJob(deps.pool, input.jobId, reason, jobFailureOfStep(name, cause), input);
  const message = buildStatusMessage(job, { successList: [], failedList: [] });
  await publishStatus(deps.status, statusRecorder(deps.pool, input.jobId), message);
  const seconds = (Date.parse(message.finishedAt) - Date.parse(message.startedAt)) / 1000;
  recordJobFinished(input.kind, message.status, seconds);
  if (input.kind === 'matches') {
    metrics.addMetric(METRIC_NAMES.matchStorageErrors, MetricUnit.Count, 1);
  } else if (input.kind === 'erasure') {
    metrics.addMetric(METRIC_NAMES.erasuresFailed, MetricUnit.Count, 1);
  } else {
    metrics.addMetric(METRIC_NAMES.nodeJobsFailed, MetricUnit.Count, 1);
    recordNodeStorageError();
  }
  logJob(input).error('import failed', { reason });
  return message;
}
