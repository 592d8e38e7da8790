import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';
import { describeMemory, type ProbedProcess, spawnWithMemoryProbe } from '../../support/memory-run.ts';

const DOMAIN = '8a4f5e6d-7c8b-4d9e-8f10-2b3c4d5e6f70';
const MB = 1024 * 1024;
/** The line the user sent: one NDJSON record of 300 MB. */
const LINE_BYTES = 300 * MB;
/**
 * What the server may hold live beyond the record limit (1 MiB) and the chunks in flight: far below the line
 * (327 MB stayed live before the fix, 37 MB after).
 */
const LIVE_BOUND_MB = 96;
/**
 * How far the peak RSS may rise over the idle size: below the line itself, so the line was never held whole
 * (it rose by 705 MB before the fix, by 61 MB after; the allocator's laziness makes this the looser figure).
 */
const GROWTH_BOUND_MB = 200;

/** `{"username":"xxx…"}` of about `bytes`, produced chunk by chunk: the test never holds it either. */
async function* oneLongLine(bytes: number): AsyncGenerator<Buffer> {
  yield Buffer.from('{"username":"');
  const chunk = Buffer.alloc(MB, 'x');
  for (let sent = 0; sent < bytes; sent += chunk.length) yield chunk;
  yield Buffer.from('"}\n');
}

async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  assert.ok(match, `no ${field} in /proc status`);
  return Number(match[1]) / 1024;
}

/** POSTs a streamed raw NDJSON users import; resolves with the status and JSON of the answer. */
async function postStream(
  url: string,
  body: AsyncIterable<Buffer>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const req = request(`${url}/v1/imports?resource_type=users&format=ndjson&domain_id=${DOMAIN}&group_id=g1`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'one-long-line' },
  });
  const answered = once(req, 'response');
  await pipeline(Readable.from(body), req);
  const [res] = (await answered) as [Readable & { statusCode: number }];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown> };
}

describe('a 300 MB NDJSON line sent to `matchbridge api` (issue 21)', () => {
  let dir: string;
  let server: ProbedProcess;
  let url: string;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-line-'));
    const db = await testDatabase('api_line');
    closeDb = db.close;
    server = spawnWithMemoryProbe([join(ROOT, 'bin', 'matchbridge.js'), 'api', '--port', '0'], {
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
    });
    for (;;) {
      const match = /listening on (\S+)/.exec(server.stdout());
      if (match?.[1]) {
        url = match[1];
        break;
      }
      assert.equal(server.child.exitCode, null, 'the server exited before listening');
      await sleep(50);
    }
  });
  after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGTERM');
    await server.exited;
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the job at the record limit while the server stays near its idle size', async () => {
    const pid = server.child.pid as number;
    const idle = await rssMb(pid, 'VmRSS');
    const created = await postStream(url, oneLongLine(LINE_BYTES));
    assert.equal(created.status, 202, JSON.stringify(created.json));
    let job: Record<string, unknown> = {};
    // Waits for the job's end (a condition, not a duration).
    for (let i = 0; i < 6000; i += 1) {
      job = (await (await fetch(`${url}/v1/imports/${created.json.job_id}`)).json()) as Record<
        string,
        unknown
      >;
      if (job.status !== 'pending' && job.status !== 'processing') break;
      await sleep(100);
    }
    const peak = await rssMb(pid, 'VmHWM');
    server.child.kill('SIGTERM');
    const { memory } = await server.exited;
    process.stderr.write(
      `one ${LINE_BYTES / MB} MB line: server idle RSS ${idle.toFixed(0)} MB, peak RSS ${peak.toFixed(0)} MB; ${describeMemory(memory)}\n`,
    );
    assert.equal(job.status, 'failed');
    assert.deepEqual(job.errors, []);
    assert.equal((job.failure as { code: string }).code, 'RECORD_TOO_LARGE');
    assert.ok(peak - idle < GROWTH_BOUND_MB, `the server grew by ${(peak - idle).toFixed(0)} MB`);
    assert.ok(memory.liveHeapBytes / MB < LIVE_BOUND_MB, describeMemory(memory));
  });
});
