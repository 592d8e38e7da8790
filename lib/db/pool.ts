import pg from 'pg';
import { logger } from '../observability/logger.ts';
import { mapDatabaseError } from './errors.ts';
import { withMappedErrors } from './query.ts';

/** How to reach the database: a URL (local, tests) or discrete settings (AWS, from the secret). */
export interface PoolConfig {
  readonly connectionString?: string;
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  /** A string, or a function giving each new connection its password (an IAM authentication token). */
  readonly password?: string | (() => Promise<string>);
  /** TLS with certificate verification (RDS Proxy presents a publicly trusted certificate). */
  readonly ssl?: boolean;
  /** Connections this process may hold. */
  readonly max: number;
  /** Shown in `pg_stat_activity.application_name`. */
  readonly applicationName?: string;
}

/**
 * One pool per process (create it at module scope, never per invocation). Idle clients that lose their
 * connection are logged, not thrown: an unhandled `error` event would crash the process.
 */
export function createPool(cfg: PoolConfig): pg.Pool {
  const pool = new pg.Pool({
    connectionString: cfg.connectionString,
    host: cfg.host,
    port: cfg.port,
    database: cfg.database,
    user: cfg.user,
    password: cfg.password,
    ssl: cfg.ssl ? { rejectUnauthorized: true } : undefined,
    max: cfg.max,
    application_name: cfg.applicationName ?? 'matchbridge',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // Idle connections must not keep a CLI process alive after its work is done.
    allowExitOnIdle: true,
  });
  pool.on('error', (err) => {
    logger.warn('idle database client failed', { error: mapDatabaseError(err) });
  });
  return pool;
}

const checkedOutErrorListener = (err: Error): void => {
  logger.warn('checked-out database client failed', { error: mapDatabaseError(err) });
};

/**
 * Checks out a client with an `error` listener attached: while checked out, the pool's own listener is
 * removed, and a connection that drops between two queries would otherwise emit an unhandled `error`.
 * Pair every call with {@link releaseClient}.
 */
export async function checkoutClient(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await withMappedErrors(() => pool.connect());
  client.on('error', checkedOutErrorListener);
  return client;
}

/** Returns a client to the pool; with `destroy` set it is closed instead (its session state is unknown). */
export function releaseClient(client: pg.PoolClient, destroy?: Error | boolean): void {
  client.removeListener('error', checkedOutErrorListener);
  client.release(destroy);
}

/**
 * Runs `fn` inside `BEGIN … COMMIT` on one checked-out client. On any error the transaction is rolled back
 * and the error rethrown (through {@link mapDatabaseError}); a client whose rollback failed is destroyed,
 * not returned to the pool.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await checkoutClient(pool);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = await rollback(client);
    throw mapDatabaseError(err);
  } finally {
    releaseClient(client, broken);
  }
}

/** Rolls back the open transaction; returns the error when the client cannot be trusted any more. */
export async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
