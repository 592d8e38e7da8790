import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import type pg from 'pg';
import type { IngestOutcome } from '../../../lib/ingest/ingest-records.ts';
import { JobStatusMessageSchema } from '../../../lib/jobs/status-message.ts';
import type { BridgedMskEvent } from '../../../lib/kafka/msk-event.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { type KafkaBridgeSummary, runKafkaBridge } from '../../../lib/local/kafka-bridge.ts';
import type { MskEvent } from '../../../lib/model/ingest.ts';
import { closeRuntimeDeps } from '../../../lib/runtime/deps.ts';
import { testDatabase } from '../../support/database.ts';
import { readMessage } from '../../support/kafka/status-topic.ts';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';

const DOMAIN = '3c9d2e1f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const SAMPLE = resolve(import.meta.dirname, '../../../samples/nodes.csv');
const BIN = resolve(import.meta.dirname, '../../../bin/matchbridge.js');

/** Resolves with `promise`, or fails naming `what` once `ms` passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('kafka-bridge: the local MSK event-source mapping', () => {
  let broker: KafkaBroker;
  let admin: Admin;
  let producer: Producer<string, string, string, string>;
  let dir: string;
  let pool: pg.Pool;
  let databaseUrl: string;
  let closeDb: () => Promise<void>;

  before(async () => {
    broker = await startKafkaBroker();
    admin = new Admin({ clientId: 'mb-test-admin', bootstrapBrokers: [broker.bootstrap] });
    producer = new Producer({
      clientId: 'mb-test-requests',
      bootstrapBrokers: [broker.bootstrap],
      serializers: stringSerializers,
    });
    dir = await mkdtemp(join(tmpdir(), 'mb-kafka-bridge-'));
    const db = await testDatabase('kafka_bridge');
    pool = db.pool;
    databaseUrl = db.url;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      KAFKA_BROKERS: broker.bootstrap,
      STATUS_PUBLISH_BACKOFF_MS: '50',
    });
  });
  after(async () => {
    await closeRuntimeDeps();
    await closeDb?.();
    if (producer && !producer.closed) await producer.close();
    if (admin && !admin.closed) await admin.close();
    await broker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const committedOffsets = async (groupId: string): Promise<Array<[string, bigint[]]>> => {
    const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    return (group?.topics ?? []).map(({ name, partitions }) => [
      name,
      partitions.map((partition) => partition.committedOffset),
    ]);
  };

  it('hands a node import request to ingest, runs the import, and publishes its status message', {
    timeout: 180_000,
  }, async () => {
    const topic = 'matchbridge-users';
    const groupId = 'mb-test-bridge';
    await admin.createTopics({ topics: [topic, 'nodes-import-status'], partitions: 1, replicas: 1 });
    const controller = new AbortController();
    let ingested!: (value: { event: BridgedMskEvent; outcome: IngestOutcome }) => void;
    const firstEvent = new Promise<{ event: BridgedMskEvent; outcome: IngestOutcome }>((resolve) => {
      ingested = resolve;
    });
    const bridge = runKafkaBridge({
      brokers: [broker.bootstrap],
      topics: [topic],
      groupId,
      signal: controller.signal,
      onEvent: (event, outcome) => ingested({ event, outcome }),
    });
    // Stops the bridge even when an assertion fails, so that the test ends.
    let summary: KafkaBridgeSummary | undefined;
    try {
      await producer.send({
        messages: [
          {
            topic,
            key: 'bridge',
            value: JSON.stringify({
              domainId: DOMAIN,
              groupId: 'bridge',
              filePath: SAMPLE,
              fileName: 'nodes.csv',
              contentType: 'text/csv',
            }),
            headers: { source: 'test' },
          },
        ],
      });

      const { event, outcome } = await within(
        Promise.race([firstEvent, bridge.then(() => Promise.reject(new Error('the bridge stopped')))]),
        150_000,
        'the request ingested',
      );

      assert.equal(event.eventSource, 'aws:kafka');
      assert.deepEqual(Object.keys(event.records), [`${topic}-0`]);
      assert.equal(outcome.started.length, 1);
      assert.deepEqual(outcome.deadLettered, []);
      const jobId = outcome.started[0]?.jobId ?? '';
      const message = await readMessage(broker.bootstrap, 'nodes-import-status', (m) => m.key === jobId);
      const status = JobStatusMessageSchema.parse(JSON.parse(message.value));
      assert.equal(status.jobId, jobId);
      assert.equal(status.status, 'COMPLETED');
      assert.equal(status.processed, 12);
      assert.equal(status.total, 12);
      assert.equal(status.domainId, DOMAIN);
      assert.equal(status.groupId, 'bridge');
      assert.equal(message.headers.get('__TypeId__'), 'com.matchbridge.imports.NodesImportStatus');
      const nodes = await pool.query(
        'SELECT count(*)::int AS n FROM nodes WHERE domain_id = $1 AND group_id = $2',
        [DOMAIN, 'bridge'],
      );
      assert.equal(nodes.rows[0]?.n, 12);
    } finally {
      controller.abort();
      summary = await within(bridge, 30_000, 'the bridge stopped after abort');
    }
    assert.deepEqual(summary, { events: 1, records: 1, started: 1, deadLettered: 0, duplicates: 0 });
    assert.deepEqual(await committedOffsets(groupId), [[topic, [1n]]]);
  });

  it('commits nothing when ingest reports a record for redelivery, so that the next run reads the batch again', {
    timeout: 60_000,
  }, async () => {
    const topic = `retry-${randomUUID()}-users`;
    const groupId = `mb-test-bridge-${randomUUID()}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await producer.send({ messages: [{ topic, key: 'k', value: '{"not":"read yet"}' }] });
    const failing = runKafkaBridge({
      brokers: [broker.bootstrap],
      topics: [topic],
      groupId,
      signal: new AbortController().signal,
      ingest: async (event) => {
        const [partition = '', records = []] = Object.entries(event.records)[0] ?? [];
        return {
          started: [],
          deadLettered: [],
          duplicates: 0,
          batchItemFailures: [{ itemIdentifier: { partition, offset: records[0]?.offset ?? -1 } }],
        };
      },
    });

    await within(
      assert.rejects(failing, { name: 'KafkaBridgeRedeliveryError' }),
      30_000,
      'the failing bridge stopped',
    );
    assert.deepEqual(await committedOffsets(groupId), []);

    const controller = new AbortController();
    const seen: MskEvent[] = [];
    const again = runKafkaBridge({
      brokers: [broker.bootstrap],
      topics: [topic],
      groupId,
      signal: controller.signal,
      ingest: async (event) => {
        seen.push(event);
        controller.abort();
        return { started: [], deadLettered: [], duplicates: 0, batchItemFailures: [] };
      },
    });
    const summary = await within(again, 30_000, 'the second bridge read the batch and stopped');

    assert.deepEqual(
      seen.flatMap((event) =>
        Object.values(event.records)
          .flat()
          .map((r) => [r.topic, r.offset]),
      ),
      [[topic, 0]],
    );
    assert.equal(summary.records, 1);
    assert.deepEqual(await committedOffsets(groupId), [[topic, [1n]]]);
  });

  it('runs as `matchbridge kafka-bridge` until SIGTERM, printing each job, and exits 0', {
    timeout: 180_000,
  }, async () => {
    const topic = `cli-${randomUUID()}-users`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      // Status messages must go to the bridged brokers, as when nothing else is configured.
      if (value !== undefined && name !== 'KAFKA_BROKERS') env[name] = value;
    }
    Object.assign(env, { DATABASE_URL: databaseUrl, MATCHBRIDGE_HOME: join(dir, 'cli-home') });
    const child = spawn(
      process.execPath,
      [
        BIN,
        'kafka-bridge',
        '--brokers',
        broker.bootstrap,
        '--topics',
        topic,
        '--group',
        `cli-${randomUUID()}`,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    try {
      await producer.send({
        messages: [
          {
            topic,
            value: JSON.stringify({
              domainId: DOMAIN,
              groupId: 'cli-bridge',
              filePath: SAMPLE,
              contentType: 'text/csv',
            }),
          },
        ],
      });
      const jobLine = /^Job ([0-9a-f-]{36}) (\w+): 12 of 12 rows loaded/m;
      await within(
        (async () => {
          while (!jobLine.test(stdout)) {
            if (child.exitCode !== null) throw new Error(`the bridge exited early: ${stderr}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        })(),
        150_000,
        'the job line printed',
      );
      const [, jobId, status] = jobLine.exec(stdout) ?? [];
      assert.equal(status, 'COMPLETED');
      const message = await readMessage(broker.bootstrap, 'nodes-import-status', (m) => m.key === jobId);
      assert.equal(JobStatusMessageSchema.parse(JSON.parse(message.value)).groupId, 'cli-bridge');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await within(exited, 30_000, 'the bridge exited after SIGTERM');

    assert.equal(code, 0, stderr);
    assert.match(stdout, /^1 records in 1 batches: 1 started \(0 failed\), 0 dead-lettered, 0 duplicates$/m);
  });
});
