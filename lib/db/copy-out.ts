import { addAbortSignal } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { mapDatabaseError } from './errors.ts';
import { checkoutClient, releaseClient } from './pool.ts';
import type { Queryable } from './query.ts';

/**
 * A string as an SQL literal (quoted, escaped), for the statements of {@link copyOut}: COPY takes no
 * parameters, so its values are inlined. The same escaping as `client.escapeLiteral`, without a connection.
 */
export const sqlLiteral: (value: string) => string = pg.escapeLiteral;

/**
 * Streams the output of `COPY (…) TO STDOUT …` (the whole statement, `sql`) as the chunks PostgreSQL sends;
 * the generator's return value is the row count the server reported. The connection's socket pauses while
 * the consumer is slow: memory stays flat. Errors are mapped by {@link mapDatabaseError}.
 *
 * On a pool, a client is checked out for the COPY and given back when it ended; a COPY that failed, was
 * abandoned (the consumer stopped early) or aborted by `signal` closes its connection instead, which ends
 * the COPY server-side (mid-COPY a connection cannot be reused). On a checked-out client (a COPY inside the
 * caller's transaction) the client is the caller's to release, and to close unless the COPY ended.
 *
 * @throws AbortError when `signal` aborts: the COPY stops.
 */
export async function* copyOut(
  db: Queryable,
  sql: string,
  signal?: AbortSignal,
): AsyncGenerator<Buffer, number, undefined> {
  signal?.throwIfAborted();
  if (!(db instanceof pg.Pool)) return yield* copyChunks(db, sql, signal);
  const client = await checkoutClient(db);
  let done = false;
  let broken: Error | undefined;
  try {
    const rows = yield* copyChunks(client, sql, signal);
    done = true;
    return rows;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    releaseClient(client, done ? undefined : (broken ?? true));
  }
}

async function* copyChunks(
  client: pg.PoolClient,
  sql: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer, number, undefined> {
  try {
    const copy = client.query(copyTo(sql));
    if (signal) addAbortSignal(signal, copy);
    for await (const chunk of copy) yield chunk as Buffer;
    return copy.rowCount;
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
