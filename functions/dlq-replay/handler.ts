import { z } from 'zod';
import { type QueueReplaySummary, replayQueue, sqsReplayQueue } from '../../lib/aws/sqs-replay.ts';
import { InvalidRequestError } from '../../lib/errors.ts';
import { replayDeadLetter } from '../../lib/ingest/replay.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { awsIngestDeps } from '../../lib/runtime/ingest-deps.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const cfg = requireHandlerConfig('dlq-replay');
const deps = awsIngestDeps(cfg);
const queue = sqsReplayQueue(deps.dlqUrl, cfg.awsRegion);

const EventSchema = z.object({ max: z.number().int().min(1).max(1000).default(100) }).default({ max: 100 });

/**
 * Invoked by hand (`{ "max": 50 }`): re-submits up to `max` letters of the ingest dead-letter queue through
 * the ingest path they first took, deleting each one that was handled (started, duplicate, or dead-lettered
 * again with its new reason).
 */
export const handler = lambdaHandler((event: unknown, context): Promise<QueueReplaySummary> => {
  const parsed = EventSchema.safeParse(event ?? undefined);
  if (!parsed.success) throw new InvalidRequestError('INVALID_EVENT', 'expected { "max"?: 1..1000 }');
  deps.starter.registerLambdaContext(context);
  return replayQueue(queue, (letter) => replayDeadLetter(letter, deps), { max: parsed.data.max });
});
