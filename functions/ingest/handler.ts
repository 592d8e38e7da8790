import { awsIngestDeps } from '../../lib/aws/ingest-deps.ts';
import { type IngestOutcome, ingestRecords, type MskEvent } from '../../lib/ingest/ingest-records.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const deps = awsIngestDeps(requireHandlerConfig('ingest'));

/**
 * MSK event-source target: each valid request starts one import execution (once per job id: idempotency
 * record, then execution name); invalid ones are dead-lettered.
 */
export const handler = lambdaHandler((event: MskEvent, context): Promise<IngestOutcome> => {
  deps.starter.registerLambdaContext(context);
  return ingestRecords(event, deps);
});
