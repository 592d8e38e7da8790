import { randomUUID } from 'node:crypto';
import { type ExportRequest, type ExportSummary, USER_EXPORT_STATE_MACHINE_NAME } from '../export/types.ts';
import { runLocalExecution, type TaskObserver } from './local-runner.ts';
import { synthesizedMachines } from './run-import.ts';

/** An export run whose execution failed as a whole (its plan or summary step failed after their retries). */
export class ExportRunFailedError extends Error {
  readonly code = 'EXPORT_RUN_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ExportRunFailedError';
  }
}

/**
 * Runs one user export through the synthesized export state machine (the one the schedule starts on AWS),
 * in-process, and returns its summary. Groups that failed are in the summary as FAILED; only a run that
 * could not plan or summarise throws.
 */
export async function runExportLocally(
  request: ExportRequest,
  options: { observe?: TaskObserver } = {},
): Promise<ExportSummary> {
  const machine = (await synthesizedMachines())[USER_EXPORT_STATE_MACHINE_NAME];
  if (!machine)
    throw new Error(`the synthesized app has no '${USER_EXPORT_STATE_MACHINE_NAME}' state machine`);
  const outcome = await runLocalExecution(machine, request, {
    executionName: randomUUID(),
    ...(options.observe ? { observe: options.observe } : {}),
  });
  if (outcome.status === 'FAILED') {
    throw new ExportRunFailedError(`export run failed: ${outcome.error}: ${outcome.cause}`);
  }
  return outcome.output as ExportSummary;
}
