import { type LoadBatchInput, loadBatch } from '../../lib/jobs/load-batch.ts';
import { deadlineSignal } from '../../lib/runtime/deadline.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('load-batch');

/** One Map iteration: load one batch's byte range; stops cleanly before the Lambda deadline. */
export const handler = lambdaHandler(async (event: LoadBatchInput, context) =>
  loadBatch(await runtimeDeps(), event, deadlineSignal(context)),
);
