import { type FinalizeInput, finalizeImport } from '../../lib/jobs/finalize-import.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('finalize');

/** Last state of an import: aggregate batches, write reports, mark the job final, record the status. */
export const handler = lambdaHandler(async (event: FinalizeInput) =>
  finalizeImport(await runtimeDeps(), event),
);
