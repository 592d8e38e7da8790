import { planImport } from '../../lib/jobs/plan-import.ts';
import type { ImportExecutionInput } from '../../lib/model/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('plan');

/** First state of an import: claim the job, check the file, cut it into batches. */
export const handler = lambdaHandler(async (event: ImportExecutionInput) =>
  planImport(await runtimeDeps(), event),
);
