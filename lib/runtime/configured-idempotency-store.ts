import { postgresIdempotencyStore } from '../api/idempotency.ts';
import { dynamoIdempotencyStore } from '../aws/api-idempotency.ts';
import { idempotencyOptions } from '../aws/idempotent-starter.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import type { IdempotencyStore } from '../model/idempotency.ts';

/** The idempotency store of a configuration: DynamoDB when `IDEMPOTENCY_TABLE` is set, else PostgreSQL. */
export function configuredIdempotencyStore(deps: RuntimeDeps): IdempotencyStore {
  const options = idempotencyOptions(deps.config);
  return options
    ? dynamoIdempotencyStore(options)
    : postgresIdempotencyStore(deps.pool, { ttlSeconds: deps.config.idempotencyTtlSeconds });
}
