import type { PruneResult } from '../../lib/retention/prune.ts';
import { prune } from '../../lib/retention/prune.ts';
import { deadlineSignal } from '../../lib/runtime/deadline.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('prune');

/** The schedule's input: when it fired (logged by the wrapper with the invocation). */
interface PruneEvent {
  readonly scheduledTime?: string;
}

/** The daily prune: each kind's retention from RETENTION_*; stops cleanly before the invocation deadline. */
export const handler = lambdaHandler(async (_event: PruneEvent, context): Promise<PruneResult> => {
  const { pool, config } = await runtimeDeps();
  return prune(pool, config, { dryRun: false, signal: deadlineSignal(context) });
});
