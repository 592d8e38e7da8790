import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { readDatabaseCredentials } from '../aws/database-credentials.ts';
import { type Config, config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { ConfigurationError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { createS3Client } from '../storage/s3-client.ts';
import { createObjectStore } from '../storage/store.ts';

/** What every handler works with: configuration, one database pool and one object store per process. */
export interface RuntimeDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly store: ObjectStore;
}

/** The database URL: DATABASE_URL as given, or built from DB_* and the Secrets Manager secret on AWS. */
export async function resolveDatabaseUrl(cfg: Config): Promise<string> {
  if (cfg.databaseUrl) return cfg.databaseUrl;
  if (!cfg.dbHost || !cfg.dbSecretArn) {
    throw new ConfigurationError('set DATABASE_URL, or DB_HOST and DB_SECRET_ARN');
  }
  const { user, password } = await readDatabaseCredentials(cfg.dbSecretArn, cfg.awsRegion);
  const url = new URL(`postgres://${cfg.dbHost}:${cfg.dbPort}/${encodeURIComponent(cfg.dbName)}`);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  if (cfg.dbSsl === 'require') url.searchParams.set('sslmode', 'require');
  return url.toString();
}

let deps: Promise<RuntimeDeps> | undefined;

/**
 * The process-wide dependencies, created on first use and reused across invocations (a Lambda keeps its
 * pool warm; the local runner shares one pool between all in-process handlers).
 */
export function runtimeDeps(): Promise<RuntimeDeps> {
  deps ??= (async () => {
    const cfg = config();
    let s3: S3Client | undefined;
    const store = createObjectStore({
      s3: () => {
        s3 ??= createS3Client({
          region: cfg.awsRegion,
          ...(cfg.s3Endpoint ? { endpoint: cfg.s3Endpoint } : {}),
          ...(cfg.s3ForcePathStyle !== undefined ? { forcePathStyle: cfg.s3ForcePathStyle } : {}),
        });
        return s3;
      },
      allowLocalFiles: cfg.localMode,
    });
    return {
      config: cfg,
      pool: createPool({ connectionString: await resolveDatabaseUrl(cfg), max: cfg.dbPoolSize }),
      store,
    };
  })();
  deps.catch(() => {
    deps = undefined;
  });
  return deps;
}

/** Closes the process-wide pool (local mode, at exit). */
export async function closeRuntimeDeps(): Promise<void> {
  if (!deps) return;
  const current = await deps;
  deps = undefined;
  await current.pool.end();
}
