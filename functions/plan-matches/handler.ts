import { planMatches } from '../../lib/jobs/plan-matches.ts';
import type { ImportExecutionInput } from '../../lib/model/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('plan-matches');

/** First state of a match import: claim the job, plan the Parquet file from its footer. */
export const handler = lambdaHandler(async (event: ImportExecutionInput) =>
  planMatches(await runtimeDeps(), event),
);
