import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { ROOT } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '7f3e4d5c-6b7a-4c8d-9e0f-1a2b3c4d5e6f';
const ROWS = 1_000_000;
/** Peak RSS the server may reach while streaming: far below the response it sends (checked below). */
const PEAK_RSS_BOUND_MB = 320;

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  assert.ok(match, 'no VmHWM in /proc status');
  return Number(match[1]) / 1024;
}

describe('a streamed export of 1M rows from `matchbridge api`', () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;
  let closeDb: () => Promise<void>;
  let pool: pg.Pool;
  let database: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-stream-'));
    const db = await testDatabase('api_stream');
    closeDb = db.close;
    pool = db.pool;
    database = new URL(db.url).pathname.slice(1);
    // Rows of about 420 bytes: the response is several times the bound on the server's memory.
    await db.pool.query(
      `INSERT INTO nodes (reference_id, group_id, domain_id) SELECT 'ref-' || i, 'g', $1 FROM generate_series(1, $2) i`,
      [DOMAIN, ROWS],
    );
    await db.pool.query(
      `INSERT INTO node_metadata (node_id, domain_id, metadata)
       SELECT id, domain_id, jsonb_build_object('bio', repeat(md5(reference_id), 9), 'city', 'Pune') FROM nodes`,
    );
    child = spawn(process.execPath, [join(ROOT, 'bin', 'matchbridge.js'), 'api', '--port', '0'], {
      cwd: ROOT,
      // V8 lets garbage pile up to its heap limit before collecting; a 128 MB old space makes a buffering server
      // fail outright while a streaming one collects as it goes.
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        MATCHBRIDGE_HOME: join(dir, 'home'),
        NODE_OPTIONS: '--max-old-space-size=128',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`api exited with ${code}`)));
    });
  });
  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends every row while the server process stays within a flat memory bound', async () => {
    const before = await peakRssMb(child.pid as number);
    const response = await fetch(`${url}/v1/exports?resource_type=nodes&format=csv&domain_id=${DOMAIN}`);
    assert.equal(response.status, 200);
    let bytes = 0;
    let lines = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 0x0a) lines += 1;
    }
    const peak = await peakRssMb(child.pid as number);
    process.stderr.write(
      `streamed ${lines - 1} rows, ${(bytes / 1024 / 1024).toFixed(0)} MB; server peak RSS ${peak.toFixed(0)} MB (${before.toFixed(0)} MB before)\n`,
    );
    assert.equal(lines, ROWS + 1);
    assert.ok(
      bytes / 1024 / 1024 > PEAK_RSS_BOUND_MB,
      'the response must be larger than the bound for the test to mean anything',
    );
    assert.ok(peak < PEAK_RSS_BOUND_MB, `server peak RSS ${peak.toFixed(0)} MB`);
  });

  it('ends the COPY on the database when the client goes away mid-stream', async () => {
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/exports?resource_type=nodes&format=csv&domain_id=${DOMAIN}`, {
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const copying = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY (%' AND state = 'active'`,
            [database],
          )
        ).rows[0]?.n,
      );
    assert.equal(await copying(), 1);
    controller.abort();
    // Wait for the server to notice the closed socket (a condition, not a duration).
    for (let i = 0; i < 600 && (await copying()) > 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await copying(), 0);
    const after = await fetch(
      `${url}/v1/exports?resource_type=nodes&format=ndjson&domain_id=${DOMAIN}&fields=reference_id&group_id=none`,
    );
    assert.equal(after.status, 200);
    assert.equal(await after.text(), '');
  });
});
