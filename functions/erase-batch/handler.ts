import { type EraseBatchInput, eraseBatch } from '../../lib/erasure/erase-batch.ts';
import { deadlineSignal } from '../../lib/runtime/deadline.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('erase-batch');

/** One Map iteration of an erasure: erase the ids of one byte range; stops cleanly before the deadline. */
export const handler = lambdaHandler(async (event: EraseBatchInput, context) =>
  eraseBatch(await runtimeDeps(), event, deadlineSignal(context)),
);
