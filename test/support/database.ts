import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../lib/db/embedded.ts';
import { migrate } from '../../lib/db/migrate.ts';
import { createPool } from '../../lib/db/pool.ts';

/** A fresh, migrated database for one test suite. */
export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

interface EmbeddedForTests extends EmbeddedServer {
  readonly dir: string;
}

let embedded: Promise<EmbeddedForTests> | undefined;

// One embedded server per test process, shared by its suites, stopped after the file's last test.
after(async () => {
  if (!embedded) return;
  const server = await embedded.catch(() => undefined);
  embedded = undefined;
  if (!server) return;
  await server.stop();
  await rm(server.dir, { recursive: true, force: true });
});

function embeddedServer(): Promise<EmbeddedForTests> {
  embedded ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mb-test-pg-'));
    const server = await startEmbeddedPostgres(dir, { durable: false });
    return { ...server, dir };
  })();
  return embedded;
}

/**
 * Creates database `<prefix><name>` (dropped first if a previous run left it) on the server of
 * `DATABASE_URL`, or on an embedded server started for this test process, and migrates it. The prefix is
 * `TEST_DATABASE_PREFIX` or `mb_test_`, so two checkouts can run their suites against one server at once.
 */
export async function testDatabase(name: string): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL || (await embeddedServer()).url;
  const prefix = process.env.TEST_DATABASE_PREFIX || 'mb_test_';
  const database = `${prefix}${name.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: serverUrl, application_name: 'mb-test-admin' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  await migrate(url.toString());
  const pool = createPool({ connectionString: url.toString(), max: 8, applicationName: `mb-test-${name}` });
  let closed: Promise<void> | undefined;
  return {
    url: url.toString(),
    pool,
    close: () => {
      closed ??= pool.end();
      return closed;
    },
  };
}

/** Drops a database `testDatabase` created (its pools closed first), for suites that leave gigabytes behind. */
export async function dropTestDatabase(url: string): Promise<void> {
  const database = new URL(url).pathname.slice(1);
  const server = new URL(url);
  server.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: server.toString(), application_name: 'mb-test-admin' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
