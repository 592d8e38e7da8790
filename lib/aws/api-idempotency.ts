import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type IdempotencyStore, inUse, reused, type StoredResponse } from '../model/idempotency.ts';
import type { IdempotencyOptions } from './idempotent-starter.ts';

/** Keys of the API live beside the job-start records in the same table, under their own prefix. */
export const API_IDEMPOTENCY_KEY_PREFIX = 'matchbridge.api';

interface KeyedRequest {
  readonly domainId: string;
  readonly key: string;
  readonly requestHash: string;
}

/**
 * Idempotency keys in DynamoDB through Powertools: the record is keyed on (domain, key), the request hash is
 * the validated payload (another hash: `IdempotencyValidationError` → 422), a record still in progress
 * answers `IdempotencyAlreadyInProgressError` (→ 409), and records expire after `ttlSeconds`.
 */
export function dynamoIdempotencyStore(
  options: IdempotencyOptions,
): IdempotencyStore & { registerLambdaContext(context: Context): void } {
  let lambdaContext: Context | undefined;
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: client,
  });
  return {
    // Bounds an in-progress record by the invocation's remaining time: a request that died frees its key
    // when its invocation would have ended, not after the whole TTL.
    registerLambdaContext(context) {
      lambdaContext = context;
    },
    async once(scope, requestHash, work) {
      const config = new IdempotencyConfig({
        eventKeyJmesPath: '[domainId, key]',
        payloadValidationJmesPath: 'requestHash',
        throwOnNoIdempotencyKey: true,
        expiresAfterSeconds: options.ttlSeconds,
        // Called only for an answer read from a stored record: a repeat.
        responseHook: (response) => ({ ...(response as object), replayed: true }),
      });
      if (lambdaContext) config.registerLambdaContext(lambdaContext);
      const run = makeIdempotent(
        async (_request: KeyedRequest) => ({ response: await work(), replayed: false }),
        { persistenceStore, config, keyPrefix: API_IDEMPOTENCY_KEY_PREFIX },
      );
      try {
        const result = (await run({ ...scope, requestHash })) as {
          response: StoredResponse;
          replayed: boolean;
        };
        return result;
      } catch (error) {
        if (error instanceof IdempotencyAlreadyInProgressError) throw inUse();
        if (error instanceof IdempotencyValidationError) throw reused();
        throw error;
      }
    },
  };
}
