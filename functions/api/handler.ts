import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { runApiExport } from '../../lib/api/export-jobs.ts';
import { runApiImport } from '../../lib/api/import-jobs.ts';
import { dynamoIdempotencyStore } from '../../lib/aws/api-idempotency.ts';
import { idempotencyOptions } from '../../lib/aws/idempotent-starter.ts';
import { stepFunctionsStarter } from '../../lib/aws/step-functions.ts';
import { ConfigurationError } from '../../lib/errors.ts';
import type { IdempotencyStore } from '../../lib/model/idempotency.ts';
import type { ErasureExecutionInput } from '../../lib/model/types.ts';
import { logger } from '../../lib/observability/logger.ts';
import {
  isApiJobEvent,
  type ResponseStreamWrapper,
  selfInvokingLauncher,
  serveApiGatewayEvent,
} from '../../lib/runtime/api-gateway.ts';
import { configuredIdempotencyStore } from '../../lib/runtime/configured-idempotency-store.ts';
import { sqsDeadLetterAdmin } from '../../lib/runtime/dead-letter-admin.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';

// The Lambda runtime's globals for response streaming.
declare const awslambda: {
  streamifyResponse(
    handler: (event: unknown, stream: Writable, context: Context) => Promise<void>,
  ): (event: unknown, context: Context) => Promise<void>;
  HttpResponseStream: { from: ResponseStreamWrapper };
};

const cfg = requireHandlerConfig('api');
const idempotencyTable = idempotencyOptions(cfg);
// On AWS the keys live in DynamoDB (IDEMPOTENCY_TABLE); without a table, in PostgreSQL.
const dynamoKeys = idempotencyTable ? dynamoIdempotencyStore(idempotencyTable) : undefined;
let idempotency: IdempotencyStore | undefined;
if (!cfg.lambdaFunctionName) throw new ConfigurationError('AWS_LAMBDA_FUNCTION_NAME is not set');
const deadLetters = sqsDeadLetterAdmin(cfg);
const starter = stepFunctionsStarter(
  {
    ...(cfg.importStateMachineArn ? { nodes: cfg.importStateMachineArn } : {}),
    ...(cfg.matchImportStateMachineArn ? { matches: cfg.matchImportStateMachineArn } : {}),
    ...(cfg.erasureStateMachineArn ? { erasure: cfg.erasureStateMachineArn } : {}),
  },
  cfg.awsRegion,
);
// Erasures start their state machine at once: the execution, not this function, does the work.
const launcher = {
  ...selfInvokingLauncher(cfg.lambdaFunctionName, cfg.awsRegion),
  launchErasure: async (input: ErasureExecutionInput) => {
    await starter.start(input);
  },
};

/**
 * The bulk HTTP API behind API Gateway (REST, IAM auth, response streaming), and the runner of the jobs it
 * accepts (it invokes itself asynchronously with each). A job's transient failure rejects its invocation, so
 * Lambda retries it and finally dead-letters it (`BulkApi/JobFailures`); a permanent one has FAILED the job.
 */
export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
  logger.addContext(context);
  const deps = await runtimeDeps();
  if (isApiJobEvent(event)) {
    if (event.matchbridgeApiJob === 'import')
      await runApiImport(deps, event.job, (input) => starter.start(input));
    else await runApiExport(deps, event.job);
    stream.end();
    return;
  }
  dynamoKeys?.registerLambdaContext(context);
  idempotency ??= dynamoKeys ?? configuredIdempotencyStore(deps);
  await serveApiGatewayEvent(
    event as APIGatewayProxyEvent,
    stream,
    { deps, idempotency, launcher, ...(deadLetters ? { deadLetters } : {}) },
    awslambda.HttpResponseStream.from,
  );
});
