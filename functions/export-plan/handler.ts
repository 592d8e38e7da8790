import { planExport } from '../../lib/export/plan-export.ts';
import type { ExportPlanInput } from '../../lib/export/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('export-plan');

/** First state of a user export run: its id, date and the groups to export. */
export const handler = lambdaHandler(async (event: ExportPlanInput) =>
  planExport(await runtimeDeps(), event),
);
