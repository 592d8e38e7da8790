import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { copyOut, sqlLiteral } from '../../../lib/db/copy-out.ts';
import { checkoutClient, createPool, releaseClient } from '../../../lib/db/pool.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';

/** Enough rows that the COPY is still running after its first chunk. */
const MANY = 'COPY (SELECT g, repeat($$x$$, 100) FROM generate_series(1, 200000) g) TO STDOUT';

describe('copyOut', () => {
  let db: TestDatabase;
  let single: pg.Pool;

  before(async () => {
    db = await testDatabase('copy_out');
    single = createPool({ connectionString: db.url, max: 1, applicationName: 'mb-test-copy-out' });
  });

  after(async () => {
    await single.end();
    await db.close();
  });

  it('on a pool yields the COPY output, returns its row count and gives the client back', async () => {
    const chunks: Buffer[] = [];
    const read = copyOut(
      single,
      `COPY (SELECT v, ${sqlLiteral("it's")} FROM generate_series(1, 3) v) TO STDOUT`,
    );
    let next = await read.next();
    for (; !next.done; next = await read.next()) chunks.push(next.value);

    assert.equal(Buffer.concat(chunks).toString('utf8'), "1\tit's\n2\tit's\n3\tit's\n");
    assert.equal(next.value, 3);
    assert.equal(single.totalCount, 1);
    assert.equal(single.idleCount, 1);
  });

  it('on a pool closes the connection when the consumer stops early, and the pool goes on', async () => {
    for await (const _chunk of copyOut(single, MANY)) break;

    assert.equal(single.totalCount, 0);
    assert.equal((await single.query('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('on a pool stops with AbortError when the signal aborts mid-COPY, and closes the connection', async () => {
    const controller = new AbortController();
    await assert.rejects(
      (async () => {
        for await (const _chunk of copyOut(single, MANY, controller.signal)) controller.abort();
      })(),
      { name: 'AbortError' },
    );

    assert.equal(single.totalCount, 0);
    assert.equal((await single.query('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('on a pool rethrows a failed COPY with its SQLSTATE and closes the connection', async () => {
    await assert.rejects(
      (async () => {
        for await (const _chunk of copyOut(single, 'COPY (SELECT * FROM no_such_table) TO STDOUT'));
      })(),
      { code: '42P01' },
    );

    assert.equal(single.totalCount, 0);
    assert.equal((await single.query('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('on a checked-out client runs inside its transaction and leaves the client to the caller', async () => {
    const client = await checkoutClient(single);
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE t (v int) ON COMMIT DROP');
      await client.query('INSERT INTO t VALUES (1), (2)');
      const chunks: Buffer[] = [];
      for await (const chunk of copyOut(client, 'COPY (SELECT v FROM t ORDER BY v) TO STDOUT'))
        chunks.push(chunk);
      await client.query('COMMIT');

      assert.equal(Buffer.concat(chunks).toString('utf8'), '1\n2\n');
      assert.equal(single.idleCount, 0);
    } finally {
      releaseClient(client);
    }
  });
});
