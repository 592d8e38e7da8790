import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { isTransient } from '../errors.ts';
import { retry as retryWithBackoff } from '../model/retry.ts';
import { logger } from '../observability/logger.ts';
import { mapDatabaseError } from './errors.ts';

/**
 * `migrations/`: beside the bundle in a Lambda (bundling copies it next to `index.mjs`), or at the
 * repository root when running from source, wherever the process was started from.
 */
const MIGRATIONS_DIR =
  [new URL('./migrations/', import.meta.url), new URL('../../migrations/', import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((dir) => existsSync(dir)) ?? fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Applies the pending forward-only migrations in `migrations/` (`NNNN_name.sql`). Idempotent, and safe to
 * call from several processes at once: node-pg-migrate serialises runs on an advisory lock, and we wait for
 * it instead of failing.
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'matchbridge-migrate' });
  client.on('error', (err) => logger.warn('migration connection failed', { error: mapDatabaseError(err) }));
  try {
    await client.connect();
    await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      // Only numbered SQL files are migrations (a README beside them is not).
      ignorePattern: '(?!\\d+_.*\\.sql$).*',
      migrationsTable: 'pgmigrations',
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      logger: {
        debug: () => {},
        info: (msg: string) => logger.debug(msg),
        warn: (msg: string) => logger.warn(msg),
        error: (msg: string) => logger.error(msg),
      },
    });
  } catch (err) {
    throw mapDatabaseError(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** How long {@link migrateWhenReachable} keeps trying, and its first and longest waits. */
export interface ReachRetry {
  readonly maxTimeMs: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/** A deploy's patience: RDS Proxy created minutes earlier may take a few more to accept connections. */
export const DEPLOY_REACH_RETRY: ReachRetry = { maxTimeMs: 5 * 60_000, minDelayMs: 1000, maxDelayMs: 30_000 };

/**
 * {@link migrate}, tried again with jittered exponential backoff while the database is unreachable
 * (`DatabaseUnavailableError`), for at most `retry.maxTimeMs`; any other error fails at once.
 */
export async function migrateWhenReachable(
  databaseUrl: () => Promise<string>,
  retry: ReachRetry = DEPLOY_REACH_RETRY,
): Promise<void> {
  await retryWithBackoff(async () => migrate(await databaseUrl()), {
    attempts: Number.POSITIVE_INFINITY,
    maxTimeMs: retry.maxTimeMs,
    baseDelayMs: retry.minDelayMs,
    maxDelayMs: retry.maxDelayMs,
    shouldRetry: ({ error }) => isTransient(error),
    onFailedAttempt: ({ error, attemptNumber }) =>
      logger.warn('database not reachable yet; migrations will try again', { attemptNumber, error }),
  });
}
