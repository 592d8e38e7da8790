import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { type ApiServer, LOCAL_DOMAIN_HEADER, startApiServer } from '../../../lib/api/server.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { localDeadLetters } from '../../../lib/local/dead-letters.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { apiClient } from '../../support/api-client.ts';
import { ROOT } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER = '8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e';
const TOKEN = 'a-token-for-the-console-tests';

/** Jobs of two domains, created a minute apart: index 0 is the oldest. */
const JOBS = [
  { domain: DOMAIN, kind: 'nodes', group: 'g1', status: 'COMPLETED' },
  { domain: OTHER, kind: 'nodes', group: 'g1', status: 'FAILED' },
  { domain: DOMAIN, kind: 'matches', group: 'g2', status: 'COMPLETED' },
  { domain: DOMAIN, kind: 'nodes', group: 'g2', status: 'PROCESSING' },
  { domain: OTHER, kind: 'users', group: 'g1', status: 'PENDING' },
].map((job, index) => ({ ...job, id: randomUUID(), minute: index }));

describe('jobs list, export runs and dead letters over HTTP', () => {
  let dir: string;
  let home: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let server: ApiServer;
  let guarded: ApiServer;
  let drain: () => Promise<void>;
  let admin: ReturnType<typeof apiClient>;
  let domainCaller: ReturnType<typeof apiClient>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-console-api-'));
    home = join(dir, 'home');
    const db = await testDatabase('console_api');
    pool = db.pool;
    closeDb = db.close;
    initLocalConfig({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: home });
    for (const job of JOBS) {
      await pool.query(
        `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin, total, processed,
                                  failed_count, created_at, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5::varchar, 'cli', 'cli', 100, 90, 10, $6::timestamptz, $6 + interval '1 second',
                 CASE WHEN $5::varchar IN ('COMPLETED', 'FAILED') THEN $6 + interval '11 seconds' END)`,
        [job.id, job.kind, job.domain, job.group, job.status, new Date(Date.UTC(2026, 0, 1, 0, job.minute))],
      );
    }
    const first = JOBS[0]!;
    // The running counters as migration 0011 (issue 18, part 1) adds them; the list reads them where present.
    await pool.query(
      `ALTER TABLE import_jobs
         ADD COLUMN IF NOT EXISTS batches_total integer,
         ADD COLUMN IF NOT EXISTS batches_done integer NOT NULL DEFAULT 0,
         ADD COLUMN IF NOT EXISTS rows_written bigint NOT NULL DEFAULT 0,
         ADD COLUMN IF NOT EXISTS rows_failed bigint NOT NULL DEFAULT 0`,
    );
    await pool.query(`UPDATE import_jobs SET batches_done = 2, batches_total = 2 WHERE id = $1`, [first.id]);
    await pool.query(
      `UPDATE import_jobs SET batches_done = 3, batches_total = 8, rows_written = 40, rows_failed = 2
       WHERE id = $1`,
      [JOBS[3]!.id],
    );
    await pool.query(
      `INSERT INTO job_status_events (job_id, domain_id, topic, payload, delivery_status, published_at)
       VALUES ($1, $2, 'nodes-import-status', $3, 'SENT', now())`,
      [first.id, DOMAIN, JSON.stringify({ jobId: first.id, status: 'COMPLETED' })],
    );
    await pool.query(
      `INSERT INTO export_jobs (domain_id, group_id, status, exported, triggered_by, error)
       VALUES ($1, 'g1', 'COMPLETED', 12, 'schedule', null), ($2, 'g1', 'FAILED', 0, 'schedule', 'kafka down')`,
      [DOMAIN, OTHER],
    );
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    guarded = await startApiServer(context, { port: 0, token: TOKEN });
    admin = apiClient(server.url);
    domainCaller = apiClient(guarded.url, {
      authorization: `Bearer ${TOKEN}`,
      [LOCAL_DOMAIN_HEADER]: DOMAIN,
    });
  });
  after(async () => {
    await server.close();
    await guarded.close();
    await drain();
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  const ids = (reply: { json: Record<string, unknown> }) =>
    (reply.json.jobs as Array<{ job_id: string }>).map((job) => job.job_id);
  const newestFirst = (jobs: typeof JOBS) => [...jobs].reverse().map((job) => job.id);

  describe('GET /v1/jobs', () => {
    it('lists every domain newest first for an operator, one domain for its caller', async () => {
      const all = await admin('GET', '/v1/jobs');
      const own = await domainCaller('GET', '/v1/jobs');

      assert.equal(all.status, 200);
      assert.deepEqual(ids(all), newestFirst(JOBS));
      assert.equal(all.json.next_cursor, null);
      assert.deepEqual(ids(own), newestFirst(JOBS.filter((job) => job.domain === DOMAIN)));
    });

    it('filters by kind, status, group and time', async () => {
      const nodes = await admin('GET', '/v1/jobs?kind=nodes&status=completed');
      const group = await admin('GET', '/v1/jobs?group_id=g2');
      const since = await admin('GET', '/v1/jobs?since=2026-01-01T00:03:00Z');

      assert.deepEqual(ids(nodes), [JOBS[0]!.id]);
      assert.deepEqual(ids(group), newestFirst(JOBS.filter((job) => job.group === 'g2')));
      assert.deepEqual(ids(since), newestFirst(JOBS.slice(3)));
    });

    it('pages with a cursor through every job once', async () => {
      const seen: string[] = [];
      let cursor: unknown = null;
      do {
        const page = await admin('GET', `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(page.status, 200);
        seen.push(...ids(page));
        cursor = page.json.next_cursor;
      } while (cursor);

      assert.deepEqual(seen, newestFirst(JOBS));
    });

    it('shows counts, batches and speed', async () => {
      const reply = await admin('GET', `/v1/jobs?kind=nodes&status=completed`);
      const [job] = reply.json.jobs as Array<Record<string, unknown>>;

      assert.equal(job?.kind, 'nodes');
      assert.equal(job?.processed_count, 100);
      assert.equal(job?.fail_count, 10);
      assert.equal(job?.batches_done, 2);
      assert.equal(job?.batches_total, 2);
      // 100 rows in the 10 seconds between start and end.
      assert.equal(job?.rows_per_second, 10);
    });

    it('shows a running job’s running counters, not its final figures', async () => {
      const reply = await admin('GET', '/v1/jobs?status=processing');
      const [job] = reply.json.jobs as Array<Record<string, unknown>>;

      assert.equal(job?.job_id, JOBS[3]!.id);
      assert.deepEqual(
        [job?.processed_count, job?.success_count, job?.fail_count, job?.batches_done, job?.batches_total],
        [42, 40, 2, 3, 8],
      );
    });

    it('refuses a cursor it did not give and an unknown status', async () => {
      assert.equal((await admin('GET', '/v1/jobs?cursor=bm9wZQ')).json.code, 'INVALID_CURSOR');
      assert.equal((await admin('GET', '/v1/jobs?status=lost')).status, 400);
    });
  });

  describe('GET /v1/jobs/{job_id}', () => {
    it('shows where the status message went', async () => {
      const reply = await domainCaller('GET', `/v1/jobs/${JOBS[0]!.id}`);

      assert.equal(reply.status, 200);
      const [message] = reply.json.status_messages as Array<Record<string, unknown>>;
      assert.equal(message?.destination, 'nodes-import-status');
      assert.equal(message?.delivery_status, 'sent');
      assert.deepEqual(message?.message, { jobId: JOBS[0]!.id, status: 'COMPLETED' });
    });

    it("keeps another domain's job from a domain caller, not from an operator", async () => {
      assert.equal((await domainCaller('GET', `/v1/jobs/${JOBS[1]!.id}`)).status, 403);
      assert.equal((await admin('GET', `/v1/jobs/${JOBS[1]!.id}`)).status, 200);
      assert.equal((await admin('GET', `/v1/imports/${JOBS[1]!.id}`)).status, 200);
    });
  });

  describe('GET /v1/export-runs', () => {
    it('lists the runs of the caller’s domain, with the error for operators only', async () => {
      const own = await domainCaller('GET', '/v1/export-runs?group_id=g1');
      const all = await admin('GET', '/v1/export-runs');

      const runs = (reply: { json: Record<string, unknown> }) =>
        (reply.json.runs as Array<Record<string, unknown>>).map((run) => [run.domain_id, run.error]);
      assert.deepEqual(runs(own), [[DOMAIN, null]]);
      assert.deepEqual(runs(all).sort(), [
        [DOMAIN, null],
        [OTHER, 'kafka down'],
      ]);
    });
  });

  describe('dead letters', () => {
    let valid: string;
    let invalid: string;
    const letters = async () =>
      (await admin('GET', '/v1/dead-letters')).json.letters as Array<Record<string, unknown>>;

    before(async () => {
      const queue = localDeadLetters(home);
      const letter = {
        topic: 'console-users',
        partition: 0,
        key: null,
        headers: {},
        valueEncoding: 'utf8' as const,
      };
      await queue.send({
        ...letter,
        reason: 'not JSON',
        code: 'NOT_JSON',
        offset: 1,
        value: '{"domainId": ',
      });
      await queue.send({
        ...letter,
        reason: 'written under an older rule',
        code: 'UNSUPPORTED_REQUEST',
        offset: 2,
        value: JSON.stringify({
          domainId: DOMAIN,
          groupId: 'replayed',
          filePath: join(ROOT, 'samples', 'nodes.csv'),
        }),
      });
      const listed = await letters();
      invalid = String(listed[0]?.id);
      valid = String(listed[1]?.id);
    });

    it('are for operators only, and never replayed by another site’s page', async () => {
      assert.equal((await domainCaller('GET', '/v1/dead-letters')).status, 403);
      assert.equal((await domainCaller('POST', `/v1/dead-letters/${valid}/replay`)).status, 403);
      const crossSite = await admin('POST', `/v1/dead-letters/${valid}/replay`, {
        headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await admin('GET', `/v1/dead-letters/${valid}`)).json.state, 'pending');
    });

    it('lists the original records with their reasons, and pages', async () => {
      const listed = await letters();
      const first = await admin('GET', '/v1/dead-letters?limit=1');
      const second = await admin('GET', `/v1/dead-letters?limit=1&cursor=${first.json.next_cursor}`);
      const one = await admin('GET', `/v1/dead-letters/${valid}`);

      assert.deepEqual(
        listed.map((l) => [l.state, l.code, l.offset, l.value]),
        [
          ['pending', 'NOT_JSON', 1, '{"domainId": '],
          ['pending', 'UNSUPPORTED_REQUEST', 2, listed[1]?.value],
        ],
      );
      assert.deepEqual(
        [first, second].map((page) => (page.json.letters as Array<{ id: string }>).map((l) => l.id)),
        [[invalid], [valid]],
      );
      assert.equal(second.json.next_cursor, undefined);
      assert.equal(one.json.reason, 'written under an older rule');
      assert.equal((await admin('GET', '/v1/dead-letters/no-such-letter')).status, 404);
    });

    it('replays one letter: its job starts and completes; a second replay is refused', async () => {
      const reply = await admin('POST', `/v1/dead-letters/${valid}/replay`);
      assert.equal(reply.status, 200);
      assert.equal(reply.json.outcome, 'started');
      await drain();
      const job = await admin('GET', `/v1/imports/${reply.json.job_id}`);

      assert.equal(job.json.status, 'completed');
      assert.equal((await admin('POST', `/v1/dead-letters/${valid}/replay`)).json.code, 'ALREADY_REPLAYED');
      assert.deepEqual((await admin('GET', '/v1/dead-letters?state=replayed')).json.letters, [
        (await admin('GET', `/v1/dead-letters/${valid}`)).json,
      ]);
    });

    it('replays every pending letter; one still bad is dead-lettered again', async () => {
      const reply = await admin('POST', '/v1/dead-letters/replay');

      assert.equal(reply.status, 200);
      assert.deepEqual(
        (reply.json.replayed as Array<{ id: string; outcome: string }>).map((r) => [r.id, r.outcome]),
        [[invalid, 'dead-lettered']],
      );
      const pending = (await admin('GET', '/v1/dead-letters?state=pending')).json.letters as Array<{
        code: string;
      }>;
      assert.deepEqual(
        pending.map((l) => l.code),
        ['NOT_JSON'],
      );
    });

    it('shows each letter with its fields in one order, and a replayed one with what became of it', async () => {
      const listed = await letters();

      const fields = [
        'id',
        'state',
        'dead_lettered_at',
        'code',
        'reason',
        'topic',
        'partition',
        'offset',
        'key',
        'headers',
        'value',
        'value_encoding',
      ];
      const byId = new Map(listed.map((l) => [l.id, l]));
      const started = byId.get(valid);
      const again = byId.get(invalid);
      const pending = listed.find((l) => l.state === 'pending');
      assert.deepEqual(Object.keys(pending ?? {}), fields);
      assert.deepEqual(Object.keys(started ?? {}), [...fields, 'replay']);
      assert.deepEqual(Object.keys((started?.replay ?? {}) as object), ['replayed_at', 'outcome', 'job_id']);
      assert.deepEqual(Object.keys((again?.replay ?? {}) as object), ['replayed_at', 'outcome', 'reason']);
    });
  });
});
