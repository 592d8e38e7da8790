import {
  type ExecutionStatusChangeEvent,
  failEndedExecution,
  isExecutionStatusChange,
} from '../../lib/jobs/fail-ended-execution.ts';
import { type FailImportInput, failImport } from '../../lib/jobs/fail-import.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('fail-job');

/**
 * Catch-all of the import state machines: the job ends FAILED with the error that stopped it. Also the
 * target of the rule on executions that ended FAILED, TIMED_OUT or ABORTED, which fails a job left PROCESSING.
 */
export const handler = lambdaHandler(async (event: FailImportInput | ExecutionStatusChangeEvent) =>
  isExecutionStatusChange(event)
    ? failEndedExecution(await runtimeDeps(), event)
    : failImport(await runtimeDeps(), event),
);
