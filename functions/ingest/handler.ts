import { ingestRecords, type KafkaIngestOutcome } from '../../lib/ingest/ingest-records.ts';
import type { MskEvent } from '../../lib/model/ingest.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { awsIngestDeps } from '../../lib/runtime/ingest-deps.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const deps = awsIngestDeps(requireHandlerConfig('ingest'));

/**
 * MSK event-source target: each valid request starts one import execution (once per job id: idempotency
 * record, then execution name); invalid ones are dead-lettered; records that could not be taken now are
 * returned as `batchItemFailures` (the mapping's partial batch response) and redelivered.
 */
export const handler = lambdaHandler((event: MskEvent, context): Promise<KafkaIngestOutcome> => {
  deps.starter.registerLambdaContext(context);
  return ingestRecords(event, deps);
});
