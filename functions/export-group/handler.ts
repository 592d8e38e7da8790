import { exportStep } from '../../lib/export/export-ranges.ts';
import type { ExportGroupInput, ExportRangeInput, FinishGroupInput } from '../../lib/export/types.ts';
import { exportDeps } from '../../lib/runtime/export-deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('export-group');

/**
 * The export function of a user export run: one group's users and import request(s); or, for a group too
 * large for one function, one key range of its file, then the file's finish (the state machine's ranges Map).
 */
export const handler = lambdaHandler(async (event: ExportGroupInput | ExportRangeInput | FinishGroupInput) =>
  exportStep(await exportDeps(), event),
);
