import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../../lib/db/embedded.ts';

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  assert.ok(child.pid);
  return child.pid;
}

async function postmasterPid(dir: string): Promise<number> {
  return Number.parseInt(
    (await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '',
    10,
  );
}

/** Starts the embedded server of `dir` in a child process that keeps running until killed. */
async function startInChild(dir: string) {
  const starter = fileURLToPath(new URL('../../../lib/db/embedded.ts', import.meta.url));
  const script = `import { startEmbeddedPostgres } from ${JSON.stringify(starter)};
    await startEmbeddedPostgres(${JSON.stringify(dir)});
    process.stdout.write('up\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  assert.match(chunk.toString(), /up/);
  return child;
}

describe('startEmbeddedPostgres', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-embedded-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its data, port and password across restarts', async () => {
    const first = await startEmbeddedPostgres(dir);
    await query(first.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    await first.stop();

    const second = await startEmbeddedPostgres(dir);
    try {
      assert.equal(second.url, first.url);
      assert.deepEqual(await query(second.url, 'SELECT v FROM kept'), [{ v: 42 }]);
    } finally {
      await second.stop();
    }
  });

  it('starts over a stale postmaster.pid left by a killed run', async () => {
    const pidFile = join(dir, 'data', 'postmaster.pid');
    const port = (await readFile(join(dir, 'port'), 'utf8')).trim();
    await writeFile(
      pidFile,
      `${await deadPid()}\n${join(dir, 'data')}\n0\n${port}\n\n127.0.0.1\n0 0\nready\n`,
    );

    const server = await startEmbeddedPostgres(dir);
    try {
      assert.deepEqual(await query(server.url, 'SELECT v FROM kept'), [{ v: 42 }]);
    } finally {
      await server.stop();
    }
  });

  it('shares a server that another live process started, leaving its stop to that process', async () => {
    const child = await startInChild(dir);
    try {
      const shared = await startEmbeddedPostgres(dir);
      await shared.stop();

      assert.deepEqual(await query(shared.url, 'SELECT v FROM kept'), [{ v: 42 }]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('replaces a server orphaned by a process killed with SIGKILL', async () => {
    const child = await startInChild(dir);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const orphanPid = await postmasterPid(dir);

    const server = await startEmbeddedPostgres(dir);
    try {
      assert.notEqual(await postmasterPid(dir), orphanPid);
      assert.throws(() => process.kill(orphanPid, 0), { code: 'ESRCH' });
      assert.deepEqual(await query(server.url, 'SELECT v FROM kept'), [{ v: 42 }]);
    } finally {
      await server.stop();
    }
  });
});
