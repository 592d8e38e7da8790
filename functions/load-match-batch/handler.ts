import { type LoadMatchBatchInput, loadMatchBatch } from '../../lib/jobs/load-match-batch.ts';
import { deadlineSignal } from '../../lib/runtime/deadline.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('load-match-batch');

/** One Map iteration of a match import: load one batch's row groups; stops cleanly before the deadline. */
export const handler = lambdaHandler(async (event: LoadMatchBatchInput, context) =>
  loadMatchBatch(await runtimeDeps(), event, deadlineSignal(context)),
);
