import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { failImport } from '../../../lib/jobs/fail-import.ts';
import { finalizeImport } from '../../../lib/jobs/finalize-import.ts';
import { createOrClaimJob, getJob } from '../../../lib/jobs/job-repository.ts';
import { JobStatusMessageSchema } from '../../../lib/jobs/status-message.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../../../lib/model/types.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { testDatabase } from '../../support/database.ts';
import { readMessage } from '../../support/kafka/status-topic.ts';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';

const DOMAIN = '7e1f0c3a-5b2d-4e8f-9a6c-1d2e3f4a5b6c';
const TYPE_ID = 'com.matchbridge.imports.NodesImportStatus';

interface StatusEventRow {
  topic: string;
  delivery_status: string;
  delivery_error: string | null;
  published: boolean;
}

describe('status messages on Kafka', () => {
  let broker: KafkaBroker;
  let dir: string;
  let home: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let statusTopic: string;

  before(async () => {
    broker = await startKafkaBroker();
    dir = await mkdtemp(join(tmpdir(), 'mb-kafka-status-'));
    home = join(dir, 'home');
    const db = await testDatabase('kafka_status');
    pool = db.pool;
    closeDb = db.close;
    // A topic of its own per run: a second run reads no message of the first.
    statusTopic = `nodes-import-status-${randomUUID()}`;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: home,
      KAFKA_BROKERS: broker.bootstrap,
      NODES_STATUS_TOPIC: statusTopic,
      STATUS_PUBLISH_BACKOFF_MS: '50',
    });
  });
  after(async () => {
    await closeRuntimeDeps();
    await closeDb?.();
    await broker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const newJob = async (groupId: string): Promise<ImportExecutionInput> => {
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'nodes',
      domainId: DOMAIN,
      groupId,
      source: { uri: join(dir, 'nodes.csv') },
      origin: 'test',
    };
    await createOrClaimJob(pool, { ...input, source: input.source.uri, executionId: input.jobId });
    return input;
  };
  const finalize = async (input: ImportExecutionInput): Promise<JobStatusMessage> =>
    finalizeImport(await runtimeDeps(), {
      ...input,
      plan: {
        header: ['reference_id'],
        referenceColumn: 0,
        total: 3,
        dbBatchRows: 100,
        pin: null,
        dryRun: false,
        batches: [{ index: 0, uri: input.source.uri, start: 0, end: 40, firstLine: 2, records: 3 }],
      },
      results: [
        { index: 0, status: 'SUCCEEDED', rows: 3, inserted: 2, updated: 1, duplicates: 0, failed: 0 },
      ],
    });
  const statusEvents = async (jobId: string): Promise<StatusEventRow[]> =>
    (
      await pool.query<StatusEventRow>(
        `SELECT topic, delivery_status, delivery_error, published_at IS NOT NULL AS published
         FROM job_status_events WHERE job_id = $1 ORDER BY id`,
        [jobId],
      )
    ).rows;

  it('publishes the finalized job: keyed by job id, with jobId, kind and __TypeId__ headers, the contract as value', {
    timeout: 60_000,
  }, async () => {
    const input = await newJob('published');

    const returned = await finalize(input);

    const message = await readMessage(broker.bootstrap, statusTopic, (m) => m.key === input.jobId);
    assert.equal(message.key, input.jobId);
    assert.deepEqual(Object.fromEntries(message.headers), {
      jobId: input.jobId,
      kind: 'nodes',
      __TypeId__: TYPE_ID,
    });
    const value = JobStatusMessageSchema.parse(JSON.parse(message.value));
    assert.deepEqual(value, returned);
    assert.equal(value.status, 'COMPLETED');
    assert.equal(value.processed, 3);
    assert.equal(value.total, 3);
    assert.deepEqual(await statusEvents(input.jobId), [
      { topic: statusTopic, delivery_status: 'SENT', delivery_error: null, published: true },
    ]);
  });

  // Stops the broker: keep these last.
  describe('with the broker down', () => {
    before(async () => {
      await broker.stop();
    });

    it('retries, dead-letters the message into the local status DLQ, and leaves the job final', {
      timeout: 60_000,
    }, async () => {
      const input = await newJob('outage');

      const returned = await finalize(input);

      assert.equal(returned.status, 'COMPLETED');
      assert.equal((await getJob(pool, input.jobId))?.status, 'COMPLETED');
      const events = await statusEvents(input.jobId);
      assert.deepEqual(
        events.map((e) => [e.topic, e.delivery_status, e.published]),
        [[statusTopic, 'FAILED', false]],
      );
      assert.match(events[0]?.delivery_error ?? '', /after 3 attempts.*dead-lettered/);
      const letters = (await readFile(join(home, 'dlq', 'status.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const letter = letters.find((l) => l.key === input.jobId);
      assert.ok(letter, 'a dead letter for the job');
      assert.equal(letter.topic, statusTopic);
      assert.equal(letter.attempts, 3);
      assert.deepEqual(letter.headers, { jobId: input.jobId, kind: 'nodes', __TypeId__: TYPE_ID });
      assert.deepEqual(JobStatusMessageSchema.parse(letter.message), returned);
    });

    it('dead-letters the FAILED message of the fail-job step as well', { timeout: 60_000 }, async () => {
      const input = await newJob('failing');

      const returned = await failImport(await runtimeDeps(), {
        ...input,
        error: { Error: 'InvalidFileError', Cause: 'no reference column' },
      });

      assert.equal(returned.status, 'FAILED');
      assert.equal((await getJob(pool, input.jobId))?.status, 'FAILED');
      assert.deepEqual(
        (await statusEvents(input.jobId)).map((e) => e.delivery_status),
        ['FAILED'],
      );
      const letters = (await readFile(join(home, 'dlq', 'status.jsonl'), 'utf8')).trim().split('\n');
      assert.ok(letters.some((line) => (JSON.parse(line) as { key: string }).key === input.jobId));
    });
  });
});
