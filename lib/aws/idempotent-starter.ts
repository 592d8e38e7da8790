import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { Config } from '../config.ts';
import type { ExecutionStarter } from '../model/ingest.ts';
import type { ImportExecutionInput } from '../model/types.ts';
import { logger } from '../observability/logger.ts';

/** Where idempotency records live and how long a started job id is remembered. */
export interface IdempotencyOptions {
  readonly tableName: string;
  readonly ttlSeconds: number;
  readonly region: string;
  /** A DynamoDB-compatible endpoint (dynalite in tests); unset means AWS DynamoDB. */
  readonly endpoint?: string;
  /** Credentials for an emulator; on AWS the function's role is used. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** The idempotency options of a configuration: undefined when no table (`IDEMPOTENCY_TABLE`) is set. */
export function idempotencyOptions(cfg: Config): IdempotencyOptions | undefined {
  if (!cfg.idempotencyTable) return undefined;
  return {
    tableName: cfg.idempotencyTable,
    ttlSeconds: cfg.idempotencyTtlSeconds,
    region: cfg.awsRegion,
    ...(cfg.dynamodbEndpoint ? { endpoint: cfg.dynamodbEndpoint } : {}),
  };
}

/** An execution starter that starts each job id at most once while its idempotency record lives. */
export interface IdempotentStarter extends ExecutionStarter {
  /**
   * Bounds an in-progress record by the invocation's remaining time, so that a start interrupted by a
   * crash frees its key when the invocation would have ended instead of holding it for the whole TTL.
   */
  registerLambdaContext(context: Context): void;
}

/**
 * The key prefix of every record. Powertools defaults it to the function name; a fixed prefix makes the
 * ingest, object-created and dlq-replay functions (and the command line) share one key space, so a job id
 * started by one of them is a duplicate for the others.
 */
export const IDEMPOTENCY_KEY_PREFIX = 'matchbridge.start-import';

/**
 * Wraps a starter with Powertools idempotency: `start` is made idempotent on the job id alone (the job id is
 * derived from the record, its idempotency key or the object's identity, so every redelivery has the same
 * one). The first call runs the starter and stores its answer; a call for a job id whose record is still
 * alive — in the same event, another event or another function — does not call the starter and answers
 * `duplicate`. Records expire after `ttlSeconds`; the execution name (the job id) remains a second, 90-day
 * line of de-duplication, and the only one when `options` is undefined (no table configured).
 */
export function withIdempotency(
  starter: ExecutionStarter,
  options: IdempotencyOptions | undefined,
): IdempotentStarter {
  if (options === undefined) {
    logger.warn(
      'no idempotency table configured (IDEMPOTENCY_TABLE): duplicate job starts are caught by the execution name only',
    );
    return { start: (input) => starter.start(input), registerLambdaContext: () => undefined };
  }
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'jobId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: options.ttlSeconds,
    // Called only when the answer comes from a stored record, i.e. for a repeated job id.
    responseHook: () => 'duplicate',
  });
  const idempotentStart = makeIdempotent((input: ImportExecutionInput) => starter.start(input), {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      awsSdkV3Client: client,
    }),
    config,
    keyPrefix: IDEMPOTENCY_KEY_PREFIX,
  });
  return {
    async start(input) {
      try {
        return await idempotentStart(input);
      } catch (error) {
        if (!(error instanceof IdempotencyAlreadyInProgressError)) throw error;
        // A twin holds the key right now. Waiting for it could deadlock a batch; the execution name still
        // lets only one execution start, so start through it and let it decide.
        logger.info('job start already in progress elsewhere; deferring to the execution name', {
          jobId: input.jobId,
        });
        return starter.start(input);
      }
    },
    registerLambdaContext(context) {
      config.registerLambdaContext(context);
    },
  };
}
