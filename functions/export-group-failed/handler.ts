import { recordGroupFailure } from '../../lib/export/finish-export.ts';
import type { ExportGroupFailedInput } from '../../lib/export/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('export-group-failed');

/** Catch of a group's export: record it FAILED in the run, so that the other groups go on. */
export const handler = lambdaHandler(async (event: ExportGroupFailedInput) =>
  recordGroupFailure(await runtimeDeps(), event),
);
