import type pg from 'pg';
import { mapDatabaseError } from './errors.ts';

/** What a query runs on: the pool (one statement, any connection) or a checked-out client (a transaction). */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Runs `work`, rethrowing its failure through {@link mapDatabaseError}: the one place a database call's
 * error becomes a domain error (`DatabaseUnavailableError` when transient), for calls that are not a
 * single {@link query} (a checkout, a cursor, a COPY pipeline).
 */
export async function withMappedErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw mapDatabaseError(err);
  }
}

/** One statement on the pool or a client, its failure mapped by {@link mapDatabaseError}. */
export function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  return withMappedErrors(() => db.query<R>(text, values));
}
