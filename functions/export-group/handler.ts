import { exportGroup } from '../../lib/export/export-group.ts';
import type { ExportGroupInput } from '../../lib/export/types.ts';
import { exportDeps } from '../../lib/runtime/export-deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('export-group');

/** One Map iteration of a user export run: export one group's users and send its import request(s). */
export const handler = lambdaHandler(async (event: ExportGroupInput) =>
  exportGroup(await exportDeps(), event),
);
