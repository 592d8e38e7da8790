import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createPool, withTransaction } from '../../../lib/db/pool.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';

describe('pool', () => {
  let db: TestDatabase;
  let single: pg.Pool;

  before(async () => {
    db = await testDatabase('pool');
    await db.pool.query('CREATE TABLE scratch (v int PRIMARY KEY)');
    single = createPool({ connectionString: db.url, max: 1, applicationName: 'mb-test-pool-single' });
  });

  after(async () => {
    await single.end();
    await db.close();
  });

  it('withTransaction commits what its function did', async () => {
    const result = await withTransaction(single, async (client) => {
      await client.query('INSERT INTO scratch VALUES (1)');
      return 'done';
    });

    assert.equal(result, 'done');
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM scratch WHERE v = 1')).rows[0]?.n, 1);
  });

  it('withTransaction rolls back and rethrows the error, and the client stays usable', async () => {
    const failure = new Error('boom');

    await assert.rejects(
      withTransaction(single, async (client) => {
        await client.query('INSERT INTO scratch VALUES (2)');
        throw failure;
      }),
      (err) => err === failure,
    );
    await assert.rejects(
      withTransaction(single, (client) => client.query('INSERT INTO scratch VALUES (1)')),
      { code: '23505' },
    );

    assert.equal((await single.query('SELECT count(*)::int AS n FROM scratch WHERE v = 2')).rows[0]?.n, 0);
  });

  it('maps a connection killed inside a transaction to DatabaseUnavailableError', async () => {
    await assert.rejects(
      withTransaction(single, (client) => client.query('SELECT pg_terminate_backend(pg_backend_pid())')),
      { name: 'DatabaseUnavailableError' },
    );

    assert.equal((await single.query('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('survives an idle connection being terminated', async () => {
    // The pool's one connection, by its pid: never another suite's connection on a shared server.
    const { rows } = await single.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The pool drops the dead client ('remove'), whether or not the server's FATAL reached it as an 'error'
    // (events.once would reject on that 'error').
    const dropped = new Promise((removed) => single.once('remove', removed));

    const terminated = await db.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
      rows[0]?.pid,
    ]);
    assert.equal(terminated.rows[0]?.ok, true);
    // The pools let idle connections not hold the process (allowExitOnIdle): without a handle of its own the
    // test process could exit, silently, before the dead connection's close event arrives.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      await dropped;
    } finally {
      clearInterval(keepAlive);
    }

    assert.equal((await single.query('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('reports an unreachable server as DatabaseUnavailableError', async () => {
    const url = new URL(db.url);
    url.port = '1';
    const nowhere = createPool({ connectionString: url.toString(), max: 1 });
    try {
      await assert.rejects(
        withTransaction(nowhere, async () => {}),
        { name: 'DatabaseUnavailableError' },
      );
    } finally {
      await nowhere.end();
    }
  });
});
