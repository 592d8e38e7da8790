import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Config, loadConfig } from '../config.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { logger } from '../observability/logger.ts';
import { closeRuntimeDeps } from '../runtime/deps.ts';
import { initLocalConfig } from './adapters.ts';

/** A ready local environment: configuration set, database migrated; `close` releases everything. */
export interface LocalEnvironment {
  readonly config: Config;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * Prepares local mode: `DATABASE_URL` when set, otherwise an embedded PostgreSQL whose data stays under
 * the local home folder (so later commands see earlier jobs); migrations applied; handlers configured.
 * `overrides` are configuration variables this command sets on top of the environment.
 */
export async function openLocalEnvironment(
  overrides: Record<string, string> = {},
): Promise<LocalEnvironment> {
  const base = loadConfig();
  const home = resolve(base.localHome);
  await mkdir(home, { recursive: true });
  let stopEmbedded: (() => Promise<void>) | undefined;
  const databaseUrl =
    base.databaseUrl ??
    (await (async () => {
      logger.info('starting embedded PostgreSQL', { dataDir: resolve(home, 'pg') });
      const embedded = await startEmbeddedPostgres(resolve(home, 'pg'));
      stopEmbedded = embedded.stop;
      return embedded.url;
    })());
  try {
    await migrate(databaseUrl);
  } catch (error) {
    await stopEmbedded?.();
    throw error;
  }
  const config = initLocalConfig({
    ...overrides,
    DATABASE_URL: databaseUrl,
    MATCHBRIDGE_HOME: home,
  });
  return {
    config,
    embedded: stopEmbedded !== undefined,
    async close() {
      await closeRuntimeDeps();
      await stopEmbedded?.();
    },
  };
}
