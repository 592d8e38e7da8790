import type pg from 'pg';
import { mapDatabaseError } from './errors.ts';
import { checkoutClient, releaseClient, rollback } from './pool.ts';

/** A query read page by page through a server-side cursor. */
export interface CursorRead {
  /** The statement opening the transaction, e.g. `BEGIN READ ONLY` (its isolation is the caller's). */
  readonly begin: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly pageRows: number;
  /** Runs inside the transaction before the cursor opens (e.g. reads the snapshot's `now()`). */
  readonly onOpen?: (client: pg.PoolClient) => Promise<void>;
}

/**
 * Streams the rows of `read.sql` (as arrays) in pages of `pageRows`, through a cursor in one transaction on
 * one checked-out client: memory holds one page, whatever the result's size. The transaction ends and the
 * client is released when the generator ends, fails or is abandoned.
 *
 * @throws DatabaseUnavailableError when the connection fails; the database's other errors as they are.
 */
export async function* readWithCursor(pool: pg.Pool, read: CursorRead): AsyncGenerator<unknown[][]> {
  const client = await checkoutClient(pool);
  let open = false;
  let broken: Error | undefined;
  try {
    await client.query(read.begin);
    open = true;
    await read.onOpen?.(client);
    await client.query(`DECLARE mb_cursor NO SCROLL CURSOR FOR ${read.sql}`, [...read.params]);
    for (;;) {
      const page = await client.query<unknown[]>({
        text: `FETCH ${Math.trunc(read.pageRows)} FROM mb_cursor`,
        rowMode: 'array',
      });
      if (page.rows.length > 0) yield page.rows;
      if (page.rows.length < read.pageRows) break;
    }
    await client.query('COMMIT');
    open = false;
  } catch (error) {
    throw mapDatabaseError(error);
  } finally {
    if (open) broken = await rollback(client);
    releaseClient(client, broken);
  }
}
