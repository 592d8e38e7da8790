import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiServer, startApiServer } from '../../../lib/api/server.ts';
import { config } from '../../../lib/config.ts';
import { jobFailureOfStep } from '../../../lib/errors.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { failJob } from '../../../lib/jobs/job-repository.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { openLocalIngest } from '../../../lib/local/ingest.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { apiClient } from '../../support/api-client.ts';
import { cli } from '../../support/cli.ts';
import { localPipeline } from '../../support/local-pipeline.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import { seedDomain, tracesOf } from './support.ts';

const API_DOMAIN = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const KAFKA_DOMAIN = '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a';
const CLI_DOMAIN = '3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b';

describe('erasure requests: API, Kafka and the command line', () => {
  const suite = localPipeline('erasure_entry', { ERASURE_TOPICS: 'dating-erasures' });
  let server: ApiServer;
  let drain: () => Promise<void>;
  let call: ReturnType<typeof apiClient>;

  before(async () => {
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    call = apiClient(server.url);
  });
  after(async () => {
    await server.close();
    await drain();
  });

  it('API: 202 then GET shows the record; the same key and body → the original response, another body → 422', async () => {
    await seedDomain(suite, API_DOMAIN, ['g1']);
    const body = JSON.stringify({ domain_id: API_DOMAIN, group_id: 'g1', references: ['alice'] });
    const headers = { 'idempotency-key': 'erase-alice', 'content-type': 'application/json' };

    const accepted = await call('POST', '/v1/erasures', { headers, body });
    await drain();
    const repeated = await call('POST', '/v1/erasures', { headers, body });
    const changed = await call('POST', '/v1/erasures', {
      headers,
      body: JSON.stringify({ domain_id: API_DOMAIN, group_id: 'g1', references: ['bob'] }),
    });

    assert.equal(accepted.status, 202);
    assert.equal(repeated.status, 200);
    assert.deepEqual(repeated.json, accepted.json);
    assert.equal(changed.status, 422);
    const shown = await call('GET', `/v1/erasures/${accepted.json.job_id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.json.status, 'completed');
    assert.equal(shown.json.erased_count, 1);
    assert.equal((shown.json.deleted_rows as Record<string, number>).nodes, 1);
    assert.deepEqual(await tracesOf(suite.pool, API_DOMAIN, ['alice']), []);
    assert.equal((await tracesOf(suite.pool, API_DOMAIN, ['bob'])).length > 0, true);
  });

  it('API: takes an NDJSON body of ids with the domain in the query, every group when none is given', async () => {
    const accepted = await call('POST', `/v1/erasures?domain_id=${API_DOMAIN}`, {
      headers: { 'idempotency-key': 'erase-ndjson', 'content-type': 'application/x-ndjson' },
      body: '"bob"\n{"reference_id": "carol"}\n',
    });
    await drain();

    assert.equal(accepted.status, 202);
    const shown = await call('GET', `/v1/erasures/${accepted.json.job_id}`);
    assert.equal(shown.json.status, 'completed');
    assert.equal(shown.json.group_id, null);
    assert.equal(shown.json.total_records, 2);
    assert.deepEqual(await tracesOf(suite.pool, API_DOMAIN, ['bob', 'carol']), []);
  });

  it('API: refuses a body without references and an unknown erasure', async () => {
    const empty = await call('POST', '/v1/erasures', {
      headers: { 'idempotency-key': 'erase-empty', 'content-type': 'application/json' },
      body: JSON.stringify({ domain_id: API_DOMAIN, references: [] }),
    });
    const unknown = await call('GET', '/v1/erasures/7b3c2d1e-0f9a-4b8c-8d7e-6f5a4b3c2d1e');

    assert.equal(empty.status, 400);
    assert.equal(unknown.status, 404);
  });

  it('API: GET of an erasure that failed for no row of its own says why, as imports do (issue 21)', async () => {
    // What FailJob records when an execution ends past every Catch (here a timed-out one).
    const jobId = '4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c';
    await failJob(suite.pool, jobId, 'States.Timeout', jobFailureOfStep('States.Timeout', 'timed out'), {
      jobId,
      kind: 'erasure',
      domainId: API_DOMAIN,
      groupId: 'g1',
      source: { uri: 'staged-ids' },
      origin: 'api',
    });

    const shown = await call('GET', `/v1/erasures/${jobId}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.json.status, 'failed');
    const failure = shown.json.failure as { code: string; message: string };
    assert.equal(failure.code, 'JOB_FAILED');
    assert.equal(typeof failure.message, 'string');
    assert.doesNotMatch(failure.message, /timed out/);
  });

  it('Kafka: an erasure request on an erasure topic starts an erasure; an invalid one is dead-lettered', async () => {
    await seedDomain(suite, KAFKA_DOMAIN, ['g1']);
    const local = openLocalIngest(config());

    const outcome = await ingestRecords(
      mskEvent([
        mskRecord(JSON.stringify({ domainId: KAFKA_DOMAIN, eraseReferenceIds: ['alice', 'dave'] }), {
          topic: 'dating-erasures',
          offset: 1,
        }),
        mskRecord(JSON.stringify({ domainId: KAFKA_DOMAIN, eraseReferenceIds: [] }), {
          topic: 'dating-erasures',
          offset: 2,
        }),
      ]),
      local.deps,
    );

    assert.equal(outcome.started.length, 1);
    assert.deepEqual(
      outcome.deadLettered.map((letter) => letter.offset),
      [2],
    );
    const [message] = [...local.starter.finished.values()];
    assert.equal(message?.kind, 'erasure');
    assert.equal(message?.status, 'COMPLETED');
    assert.deepEqual(await tracesOf(suite.pool, KAFKA_DOMAIN, ['alice', 'dave']), []);
    const codes: string[] = [];
    for await (const letter of local.deadLetters.list()) codes.push(letter.code);
    assert.equal(codes.at(-1), 'SCHEMA_VIOLATION');
  });

  it('CLI: erase prints one status message with --json and exits 0; 2 for a usage error', async () => {
    await seedDomain(suite, CLI_DOMAIN, ['g1', 'g2']);
    const ids = join(suite.dir, 'erase-ids.txt');
    await writeFile(ids, 'alice\n\nbob\n');
    const env = { DATABASE_URL: suite.url, MATCHBRIDGE_HOME: join(suite.dir, 'home') };

    const run = await cli(['erase', '--domain', CLI_DOMAIN, '--ids-file', ids, '--json'], env);
    const usage = await cli(['erase', '--domain', CLI_DOMAIN], env);
    const failed = await cli(
      ['erase', '--domain', CLI_DOMAIN, '--group', 'g1', '--ids', `x,${'y'.repeat(300)}`],
      env,
    );

    assert.equal(run.code, 0, run.stderr);
    const message = JSON.parse(run.stdout);
    assert.equal(message.kind, 'erasure');
    assert.equal(message.processed, 2);
    assert.deepEqual(await tracesOf(suite.pool, CLI_DOMAIN, ['alice', 'bob']), []);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr.split('\n')[0] ?? '', /^matchbridge: .*--ids/);
    assert.equal(failed.code, 1);
  });
});
