import {
  type FailErasureInput,
  type FinalizeErasureInput,
  failErasure,
  finalizeErasure,
} from '../../lib/erasure/finish-erasure.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('finalize-erasure');

/**
 * Last state of an erasure (clean objects, close the record, mark the job, publish its status), and its
 * catch-all (the state with `error`): the job and the record end FAILED.
 */
export const handler = lambdaHandler(async (event: FinalizeErasureInput | FailErasureInput) =>
  'plan' in event && 'results' in event && !('error' in event)
    ? finalizeErasure(await runtimeDeps(), event)
    : failErasure(await runtimeDeps(), event as FailErasureInput),
);
