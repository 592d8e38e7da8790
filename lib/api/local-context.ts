import { dynamoIdempotencyStore } from '../aws/api-idempotency.ts';
import { idempotencyOptions } from '../aws/idempotent-starter.ts';
import { runImportLocally } from '../local/run-import.ts';
import { logger } from '../observability/logger.ts';
import type { RuntimeDeps } from '../runtime/deps.ts';
import { runApiExportInProcess } from './export-jobs.ts';
import { type IdempotencyStore, postgresIdempotencyStore } from './idempotency.ts';
import { runApiImportInProcess } from './import-jobs.ts';
import type { ApiContext } from './routes.ts';

/** The idempotency store of a configuration: DynamoDB when `IDEMPOTENCY_TABLE` is set, else PostgreSQL. */
export function configuredIdempotencyStore(deps: RuntimeDeps): IdempotencyStore {
  const options = idempotencyOptions(deps.config);
  return options
    ? dynamoIdempotencyStore(options)
    : postgresIdempotencyStore(deps.pool, { ttlSeconds: deps.config.idempotencyTtlSeconds });
}

/** The local API's context: jobs run in this process, in the background; `drain` waits for them. */
export function localApiContext(deps: RuntimeDeps): ApiContext & { drain(): Promise<void> } {
  const running = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const tracked = work
      .catch((error: unknown) => logger.error('background job failed', { error: error as Error }))
      .finally(() => running.delete(tracked));
    running.add(tracked);
  };
  return {
    deps,
    idempotency: configuredIdempotencyStore(deps),
    launcher: {
      launchImport: async (job) => track(runApiImportInProcess(deps, job, runImportLocally)),
      launchExport: async (job) => track(runApiExportInProcess(deps, job)),
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
