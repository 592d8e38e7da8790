import { type FailImportInput, failImport } from '../../lib/jobs/fail-import.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('fail-job');

/** Catch-all of the import state machine: the job ends FAILED with the error that stopped it. */
export const handler = lambdaHandler(async (event: FailImportInput) =>
  failImport(await runtimeDeps(), event),
);
