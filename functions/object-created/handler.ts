import type { IngestOutcome } from '../../lib/ingest/ingest-records.ts';
import { ingestObjectCreated } from '../../lib/ingest/object-created.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { awsIngestDeps } from '../../lib/runtime/ingest-deps.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const deps = awsIngestDeps(requireHandlerConfig('object-created'));

/**
 * EventBridge target for S3 "Object Created" under `incoming/nodes/`: starts the import of the uploaded file
 * (once per object version); a key that names no domain and group is dead-lettered.
 */
export const handler = lambdaHandler((event: unknown, context): Promise<IngestOutcome> => {
  deps.starter.registerLambdaContext(context);
  return ingestObjectCreated(event, deps);
});
