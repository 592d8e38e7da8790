import type { ImportExecutionInput, JobStatusMessage } from '../model/types.ts';
import { logger } from '../observability/logger.ts';
import type { RuntimeDeps } from './deps.ts';
import { failImport } from './fail-import.ts';
import { getJob } from './job-repository.ts';

/** EventBridge's `Step Functions Execution Status Change` event, as far as it is read here. */
export interface ExecutionStatusChangeEvent {
  readonly 'detail-type': 'Step Functions Execution Status Change';
  readonly detail: {
    readonly status: string;
    readonly executionArn?: string;
    /** The execution's input, as JSON text. */
    readonly input?: string | null;
    readonly error?: string | null;
    readonly cause?: string | null;
  };
}

/** Whether an event is an execution status change (rather than the FailJob step's own input). */
export function isExecutionStatusChange(event: unknown): event is ExecutionStatusChangeEvent {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as Record<string, unknown>)['detail-type'] === 'Step Functions Execution Status Change'
  );
}

function importInputOf(text: string | null | undefined): ImportExecutionInput | undefined {
  if (!text) return undefined;
  try {
    const input = JSON.parse(text) as Partial<ImportExecutionInput>;
    return typeof input.jobId === 'string' && typeof input.kind === 'string'
      ? (input as ImportExecutionInput)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ends the job of an import execution that ended FAILED, TIMED_OUT or ABORTED: a timed-out or aborted
 * execution never reaches FailJob, and a `States.DataLimitExceeded` may escape every Catch. The job is failed
 * and its status published once: a job already final (FailJob or Finalize ran) is left alone, and so is a
 * delivery of the same event again. Executions of other machines (the user export) carry no job: ignored.
 *
 * @returns the status message published, or undefined when there was nothing to do.
 */
export async function failEndedExecution(
  deps: RuntimeDeps,
  event: ExecutionStatusChangeEvent,
): Promise<JobStatusMessage | undefined> {
  const { detail } = event;
  const input = importInputOf(detail.input);
  if (!input) {
    logger.info('ended execution carries no import job', {
      executionArn: detail.executionArn,
      status: detail.status,
    });
    return undefined;
  }
  const job = await getJob(deps.pool, input.jobId);
  if (job && (job.status === 'COMPLETED' || job.status === 'FAILED')) return undefined;
  return failImport(deps, {
    ...input,
    error: {
      Error: detail.error ?? `Execution${detail.status}`,
      Cause: detail.cause ?? `the execution ended ${detail.status} before the job was finalized`,
    },
  });
}
