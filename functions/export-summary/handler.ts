import { summarizeExport } from '../../lib/export/finish-export.ts';
import type { ExportSummaryInput } from '../../lib/export/types.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

/** Last state of a user export run: the totals beside each group's result. */
export const handler = lambdaHandler(async (event: ExportSummaryInput) => summarizeExport(event));
