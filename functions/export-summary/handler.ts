import { summarizeExport } from '../../lib/export/finish-export.ts';
import type { ExportSummaryInput } from '../../lib/export/types.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

requireHandlerConfig('export-summary');

/** Last state of a user export run: the totals beside each group's result. */
export const handler = lambdaHandler(async (event: ExportSummaryInput) => summarizeExport(event));
