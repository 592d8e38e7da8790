import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type pg from 'pg';
import { type ApiServer, startApiServer } from '../../../lib/api/server.ts';
import { completeJob, createOrClaimJob } from '../../../lib/jobs/job-repository.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { serveApiGatewayEvent } from '../../../lib/runtime/api-gateway.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { apiClient } from '../../support/api-client.ts';
import { testDatabase } from '../../support/database.ts';
import { responseProblems } from '../../support/openapi.ts';

const DOMAIN = '3f4e5d6c-7b8a-4c9d-8e0f-1a2b3c4d5e6f';
const ROLE = 'arn:aws:iam::123456789012:role/progress-watcher';
const ROWS = 40_000;
const BAD_LINES = [3, 20_002, 39_999];

/** One Server-Sent Event as received, and when. */
interface ReceivedEvent {
  readonly event: string;
  readonly id: number;
  readonly data: Record<string, unknown>;
  readonly at: number;
}

/** Parses SSE text chunks as they arrive into events (comments and `retry` lines are skipped). */
async function* sseEvents(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<ReceivedEvent> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of chunks) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
      }
      const data = fields.get('data');
      if (data === undefined) continue;
      yield {
        event: fields.get('event') ?? 'message',
        id: Number(fields.get('id')),
        data: JSON.parse(data) as Record<string, unknown>,
        at: Date.now(),
      };
    }
  }
}

const progressOf = (e: ReceivedEvent) => e.data.progress as Record<string, number | string | null>;

describe('GET /v1/imports/{job_id}/events: an import’s progress as Server-Sent Events', () => {
  let dir: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let server: ApiServer;
  let drain: () => Promise<void>;
  let call: ReturnType<typeof apiClient>;
  let context: ReturnType<typeof localApiContext>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-events-'));
    const db = await testDatabase('import_events');
    pool = db.pool;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      API_MAX_BODY_BYTES: String(8 * 1024 * 1024),
      // Many batches and transactions, so that the counters move many times during the run.
      SPLIT_BYTES: String(64 * 1024),
      DB_BATCH_ROWS: '500',
    });
    await pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [DOMAIN]);
    await pool.query(`INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, 'g1', 'G1')`, [
      DOMAIN,
    ]);
    await pool.query('INSERT INTO api_callers (principal, domain_id) VALUES ($1, $2)', [ROLE, DOMAIN]);
    context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    call = apiClient(server.url);
  });
  after(async () => {
    await server.close();
    await drain();
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  const watch = async (jobId: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}/v1/imports/${jobId}/events`, { headers });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(response.body);
    return sseEvents(response.body);
  };
  const collect = async (events: AsyncIterable<ReceivedEvent>) => {
    const all: ReceivedEvent[] = [];
    for await (const e of events) all.push(e);
    return all;
  };

  it('sends progress in order, counts never going down, then the final status, and resumes by Last-Event-ID', async () => {
    const lines = ['reference_id,name'];
    for (let row = 1; row <= ROWS; row++) {
      lines.push(`${BAD_LINES.includes(row + 1) ? '' : `ref-${row}`},name ${row}`);
    }
    const pending = await call('POST', '/v1/imports', {
      headers: { 'idempotency-key': 'events-1', 'content-type': 'application/json' },
      body: JSON.stringify({ resource_type: 'nodes', format: 'csv', domain_id: DOMAIN, group_id: 'g1' }),
    });
    assert.equal(pending.status, 202);
    const jobId = pending.json.job_id as string;
    // Watching from before the file arrives: every move of the run is seen.
    const stream = collect(await watch(jobId));
    const uploaded = await call('PUT', new URL(pending.json.upload_url as string).pathname, {
      body: `${lines.join('\n')}\n`,
    });
    assert.equal(uploaded.status, 202);

    const events = await stream;
    await drain();
    const final = await call('GET', `/v1/imports/${jobId}`);

    const last = events.at(-1);
    assert.ok(last);
    const progress = events.slice(0, -1);
    assert.ok(progress.every((e) => e.event === 'progress'));
    assert.equal(last.event, 'failed');
    assert.deepEqual(last.data, final.json);
    assert.deepEqual(
      [last.data.status, last.data.total_records, last.data.fail_count, last.data.processed_count],
      ['failed', ROWS, BAD_LINES.length, ROWS],
    );
    for (const [i, e] of events.entries()) {
      assert.deepEqual(responseProblems('GET', `/v1/imports/${jobId}`, 200, 'application/json', e.data), []);
      const before = events[i - 1];
      if (!before) continue;
      assert.ok(e.id > before.id, `event ids grow: ${before.id} then ${e.id}`);
      for (const key of ['processed_count', 'success_count', 'fail_count'] as const) {
        assert.ok(Number(e.data[key]) >= Number(before.data[key]), `${key} never goes down`);
      }
      for (const key of ['rows_done', 'batches_done', 'percentage'] as const) {
        assert.ok(Number(progressOf(e)[key]) >= Number(progressOf(before)[key]), `${key} never goes down`);
      }
    }
    const midway = progress.filter((e) => {
      const done = Number(progressOf(e).rows_done);
      return done > 0 && done < ROWS;
    });
    assert.ok(midway.length > 0, 'some events show the job partway');

    // How long a progress event takes to reach the client after its DB batch commits (a diagnostic, no bound).
    const lags = midway.map((e) => e.at - Date.parse(String(progressOf(e).updated_at))).sort((a, b) => a - b);
    const median = lags[Math.floor(lags.length / 2)];
    console.log(
      `# progress events: ${progress.length}; commit → client lag over ${lags.length}: median ${median} ms, max ${lags.at(-1)} ms`,
    );

    const middle = progress[Math.floor(progress.length / 2)];
    assert.ok(middle);
    const resumed = await collect(await watch(jobId, { 'last-event-id': String(middle.id) }));
    assert.deepEqual(
      resumed.map((e) => [e.event, e.id]),
      [[last.event, last.id]],
    );
    const again = await collect(await watch(jobId));
    assert.deepEqual(
      again.map((e) => [e.event, e.data]),
      [[last.event, last.data]],
    );
  });

  it('counts the progress of the users and match imports the API runs itself', async () => {
    const rawImport = async (resource: string, body: string, key: string) => {
      const query = `resource_type=${resource}&format=csv&domain_id=${DOMAIN}&group_id=g1`;
      const accepted = await call('POST', `/v1/imports?${query}`, {
        headers: { 'idempotency-key': key, 'content-type': 'text/csv' },
        body,
      });
      assert.equal(accepted.status, 202);
      await drain();
      const jobId = accepted.json.job_id as string;
      const { rows } = await pool.query<{ rows_done: string; rows_written: string; rows_failed: string }>(
        'SELECT rows_done, rows_written, rows_failed FROM import_jobs WHERE id = $1',
        [jobId],
      );
      const final = (await call('GET', `/v1/imports/${jobId}`)).json;
      return { counters: rows[0], final };
    };

    const users = await rawImport(
      'users',
      'username,group_id\nann,g1\nbob,nowhere\ncid,g1\n',
      'events-users',
    );
    const matches = await rawImport(
      'matches',
      'participant_id,matched_participant_id,compatibility_score\nref-10,ref-12,0.5\nref-12,ref-14,0.25\nref-10,unknown,0.1\n',
      'events-matches',
    );

    assert.deepEqual(users.counters, { rows_done: '3', rows_written: '2', rows_failed: '1' });
    assert.deepEqual([users.final.processed_count, users.final.fail_count], [3, 1]);
    assert.deepEqual(matches.counters, { rows_done: '3', rows_written: '2', rows_failed: '1' });
    assert.deepEqual([matches.final.processed_count, matches.final.fail_count], [3, 1]);
  });

  it('answers 404 for an unknown job and streams the same events through API Gateway’s response streaming', async () => {
    const unknown = await call('GET', '/v1/imports/00000000-0000-4000-8000-000000000000/events');
    assert.equal(unknown.status, 404);

    const jobId = '4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d';
    const job = { jobId, kind: 'nodes' as const, domainId: DOMAIN, groupId: 'g1' };
    await createOrClaimJob(pool, { ...job, source: 's3://b/k.csv', origin: 'test' });
    const out = new PassThrough();
    let metadata: { statusCode: number; headers: Record<string, string> } | undefined;
    const wrap = (stream: Writable, m: { statusCode: number; headers: Record<string, string> }) => {
      metadata = m;
      return stream;
    };
    const serving = serveApiGatewayEvent(
      {
        httpMethod: 'GET',
        path: `/v1/imports/${jobId}/events`,
        headers: { Host: 'abc.execute-api.eu-west-1.amazonaws.com' },
        multiValueQueryStringParameters: null,
        body: null,
        isBase64Encoded: false,
        requestContext: { stage: 'api', identity: { userArn: ROLE } },
      } as unknown as APIGatewayProxyEvent,
      out,
      context,
      wrap,
    );
    const events = sseEvents(out);
    const first = await events.next();
    // DB batches of this job commit: each event comes through while the response is still open.
    const lags: number[] = [];
    let moved: IteratorResult<ReceivedEvent> | undefined;
    for (let batch = 1; batch <= 10; batch++) {
      // Commits fall anywhere in the polling period, as a batch's would.
      await sleep((batch * 97) % 250);
      await pool.query(
        `UPDATE import_jobs SET rows_done = $2, rows_written = $2, progress_seq = progress_seq + 1,
                progress_at = now() WHERE id = $1`,
        [jobId, batch],
      );
      const committed = Date.now();
      moved = await events.next();
      lags.push(Date.now() - committed);
    }
    lags.sort((a, b) => a - b);
    // The delay with nothing else running in the process, as for the API function on AWS (a diagnostic).
    console.log(
      `# idle server: commit → event lag over ${lags.length}: median ${lags[lags.length / 2]} ms, max ${lags.at(-1)} ms`,
    );
    await completeJob(pool, jobId, {
      status: 'COMPLETED',
      total: 10,
      processed: 10,
      successCount: 10,
      failedCount: 0,
      duplicateCount: 0,
    });
    const final = await events.next();
    const end = await events.next();
    await serving;

    assert.equal(metadata?.statusCode, 200);
    assert.match(metadata?.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.deepEqual(
      [first.value?.event, moved?.value?.event, final.value?.event, end.done],
      ['progress', 'progress', 'completed', true],
    );
    assert.equal(moved?.value?.data.processed_count, 10);
    assert.equal(final.value?.data.status, 'completed');
  });
});
