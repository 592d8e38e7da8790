import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { migrate, migrateWhenReachable } from '../../../lib/db/migrate.ts';
import { DatabaseUnavailableError } from '../../../lib/errors.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';
import { freePort } from '../../support/free-port.ts';

const TABLES = [
  'api_callers',
  'api_idempotency_keys',
  'domains',
  'erasure_references',
  'erasures',
  'export_jobs',
  'import_job_batches',
  'import_job_db_batches',
  'import_job_errors',
  'import_job_parts',
  'import_jobs',
  'job_status_events',
  'match_suggestions',
  'matching_groups',
  'node_metadata',
  'nodes',
  'user_removals',
  'users',
];

describe('migrate', () => {
  let db: TestDatabase;

  before(async () => {
    db = await testDatabase('migrate');
  });

  after(async () => {
    await db.close();
  });

  it('creates every table of the design', async () => {
    const { rows } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_name <> 'pgmigrations' ORDER BY table_name`,
    );

    assert.deepEqual(
      rows.map((r) => r.table_name),
      TABLES,
    );
  });

  it('is idempotent, also when several processes run it at once', async () => {
    const files = (await readdir(new URL('../../../migrations/', import.meta.url))).filter((f) =>
      f.endsWith('.sql'),
    );

    await migrate(db.url);
    await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);

    const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
    assert.deepEqual(
      rows.map((r) => `${r.name}.sql`),
      files.sort(),
    );
  });

  it('reports an unreachable server as DatabaseUnavailableError', async () => {
    const url = new URL(db.url);
    url.port = '1';

    await assert.rejects(migrate(url.toString()), { name: 'DatabaseUnavailableError' });
  });

  it('waits for a database that is not reachable yet, then migrates', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const urls = [closed, closed, db.url];
    let calls = 0;

    await migrateWhenReachable(async () => urls[Math.min(calls++, urls.length - 1)] ?? db.url, {
      maxTimeMs: 30_000,
      minDelayMs: 5,
      maxDelayMs: 20,
    });

    assert.equal(calls, 3);
  });

  it('gives up once its time is spent, with the database error', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;

    await assert.rejects(
      migrateWhenReachable(async () => closed, { maxTimeMs: 200, minDelayMs: 5, maxDelayMs: 20 }),
      DatabaseUnavailableError,
    );
  });
});
