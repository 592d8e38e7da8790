import { planErasure } from '../../lib/erasure/plan-erasure.ts';
import type { ErasureExecutionInput } from '../../lib/model/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('plan-erasure');

/** First state of an erasure: claim the job, open its record, cut the staged id list into batches. */
export const handler = lambdaHandler(async (event: ErasureExecutionInput) =>
  planErasure(await runtimeDeps(), event),
);
