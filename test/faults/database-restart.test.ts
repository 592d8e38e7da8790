import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../lib/db/embedded.ts';
import { migrate } from '../../lib/db/migrate.ts';
import { initLocalConfig } from '../../lib/local/adapters.ts';
import { closeRuntimeDeps } from '../../lib/runtime/deps.ts';
import { blockedBy, groupState, importNodes } from '../support/faults.ts';

const DOMAIN = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';
const ROWS = 5000;

/** Its own embedded server (never the shared one), restarted in the middle of a job. */
describe('the database restarted during a node import', () => {
  let dir: string;
  let server: EmbeddedServer;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-db-restart-'));
    // Started by root, the server runs as 'postgres', which must reach its folder below this one.
    await chmod(dir, 0o755);
    server = await startEmbeddedPostgres(join(dir, 'pg'), { durable: false });
    await migrate(server.url);
    initLocalConfig({
      DATABASE_URL: server.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      SPLIT_BYTES: String(32 * 1024),
      DB_BATCH_ROWS: '400',
    });
    const lines = ['reference_id,team'];
    for (let row = 0; row < ROWS; row++) lines.push(`r-${String(row).padStart(5, '0')},team ${row % 11}`);
    file = join(dir, 'nodes.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
  });
  after(async () => {
    await closeRuntimeDeps();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = (groupId: string) => importNodes(DOMAIN, groupId, file);

  async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  const stateOf = (groupId: string) => withClient((client) => groupState(client, DOMAIN, groupId));

  it('the batches caught by the restart are retried: the job completes and equals a clean run', async () => {
    const clean = await run('clean');
    // An uncommitted insert of one of the file's keys holds the import in the middle of its upsert; the
    // server is then stopped (every connection cut, the blocker's too) and started again on the same port.
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    blocker.on('error', () => {});
    await blocker.query('BEGIN');
    const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await blocker.query(
      `INSERT INTO nodes (id, reference_id, group_id, domain_id) VALUES (gen_random_uuid(), 'r-02500', 'faulted', $1)`,
      [DOMAIN],
    );
    const running = run('faulted');
    await withClient((client) => blockedBy(client, rows[0]?.pid));
    const url = server.url;
    await server.stop();
    server = await startEmbeddedPostgres(join(dir, 'pg'), { durable: false });
    assert.equal(server.url, url);
    await blocker.end().catch(() => {});

    const message = await running;

    assert.equal(clean.status, 'COMPLETED');
    assert.deepEqual([message.status, message.processed, message.failedList], ['COMPLETED', ROWS, []]);
    assert.deepEqual(await stateOf('faulted'), await stateOf('clean'));
    assert.equal((await stateOf('clean')).length, ROWS);
  });
});
