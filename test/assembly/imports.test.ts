import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { writeMatchParquet } from '../../bench/generate-matches.ts';
import { readMessage } from '../support/kafka/status-topic.ts';
import { mskEvent, mskRecord } from '../support/msk-events.ts';
import { objectCreatedEvent } from '../support/s3-events.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';

/** The Retry of a Task state of a template's state machine, found by state name at any depth. */
function retryOf(definition: unknown, stateName: string): { ErrorEquals: string[] }[] | undefined {
  const states = (definition as { States?: Record<string, Record<string, unknown>> }).States ?? {};
  for (const [name, state] of Object.entries(states)) {
    if (name === stateName) return state.Retry as { ErrorEquals: string[] }[];
    const nested = state.ItemProcessor ?? state.Iterator;
    const found = nested ? retryOf(nested, stateName) : undefined;
    if (found) return found;
  }
  return undefined;
}

describe('the assembly: imports through the bundled functions', { timeout: 900_000 }, () => {
  let assembly: Assembly;
  let bucket: string;
  before(async () => {
    assembly = await startAssembly();
    bucket = assembly.bucket('StagingBucket');
  });
  after(async () => {
    await assembly?.close();
  });

  async function jobOf(domain: string) {
    const { rows } = await assembly.pool.query(
      `SELECT id, kind, status, total, processed, success_count, failed_count, failure_reason
         FROM import_jobs WHERE domain_id = $1`,
      [domain],
    );
    assert.equal(rows.length, 1, `one job for domain ${domain}`);
    return rows[0];
  }

  async function nodesOf(domain: string, group: string) {
    const { rows } = await assembly.pool.query(
      `SELECT n.reference_id, m.metadata FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1 AND n.group_id = $2 ORDER BY 1`,
      [domain, group],
    );
    return rows.map((r) => [r.reference_id, r.metadata]);
  }

  function failures() {
    return JSON.stringify(
      assembly.lambda.invocations
        .filter((i) => i.errorType !== undefined)
        .map((i) => [i.handlerName, i.errorType, i.errorMessage]),
    );
  }

  it('imports a CSV.gz uploaded under incoming/nodes/, started by the EventBridge rule of the template', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/upload-group/nodes.csv.gz`;
    const csv = 'reference_id,city\nu1,Pune\nu2,Delhi\nu3,\n';
    await assembly.s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(csv) }));

    const invoked = await assembly.deliverEvent(objectCreatedEvent(key, { bucket, sequencer: '0A1B2C' }));
    await assembly.settled();

    assert.deepEqual(invoked, ['object-created']);
    const job = await jobOf(domain);
    assert.equal(job.status, 'COMPLETED', failures());
    assert.deepEqual(await nodesOf(domain, 'upload-group'), [
      ['u1', { city: 'Pune' }],
      ['u2', { city: 'Delhi' }],
      ['u3', {}],
    ]);
    const report = await assembly.s3.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `reports/${job.id}/success.csv` }),
    );
    assert.match((await report.Body?.transformToString()) ?? '', /u1/);
  });

  it('dead-letters an upload under a key the rule matches but ingest refuses', async () => {
    const key = `incoming/nodes/not-a-uuid/g/nodes.csv`;
    await assembly.s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'reference_id\na\n' }),
    );

    await assembly.deliverEvent(objectCreatedEvent(key, { bucket, sequencer: '0A1B2D' }));
    await assembly.settled();

    const letters = await receiveAll(assembly.queueUrl('IngestDeadLettersRecords'));
    const letter = letters.find((l) => l.topic === `s3:${bucket}`);
    assert.ok(letter, `a dead letter for the upload among ${JSON.stringify(letters)}`);
  });

  it('does not start an import for an object outside incoming/nodes/: the rule does not match', async () => {
    const invoked = await assembly.deliverEvent(objectCreatedEvent('reports/x/success.csv', { bucket }));

    assert.deepEqual(invoked, []);
  });

  it('imports a CSV and a reference list requested on Kafka, through the MSK mapping, and publishes their status over IAM', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/kafka-group/nodes.csv`;
    await assembly.s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'Reference ID,Age\nk1,31\nk2,29\n' }),
    );
    const fileRequest = { domainId: domain, groupId: 'kafka-group', filePath: `s3://${bucket}/${key}` };
    const referenceRequest = {
      domainId: domain,
      groupId: 'reference-group',
      referenceIds: ['r1', 'r2', 'r3'],
    };
    await produce('matchbridge-users', [JSON.stringify(fileRequest), JSON.stringify(referenceRequest)]);

    const [outcome] = (await assembly.deliverKafka('matchbridge-users', 2)) as {
      started: unknown[];
      deadLettered: unknown[];
    }[];
    await assembly.settled();

    assert.equal(outcome?.started.length, 2, JSON.stringify(outcome));
    const { rows } = await assembly.pool.query(
      `SELECT id, group_id, status FROM import_jobs WHERE domain_id = $1 ORDER BY group_id`,
      [domain],
    );
    assert.deepEqual(
      rows.map((r) => [r.group_id, r.status]),
      [
        ['kafka-group', 'COMPLETED'],
        ['reference-group', 'COMPLETED'],
      ],
      failures(),
    );
    assert.deepEqual(await nodesOf(domain, 'kafka-group'), [
      ['k1', { age: '31' }],
      ['k2', { age: '29' }],
    ]);
    assert.deepEqual(
      (await nodesOf(domain, 'reference-group')).map(([reference]) => reference),
      ['r1', 'r2', 'r3'],
    );
    const status = await readMessage(
      assembly.kafka.bootstrap,
      'nodes-import-status',
      (m) => m.key === rows[0].id,
    );
    const message = JSON.parse(status.value) as { status: string; processed: number; total: number };
    assert.deepEqual([message.status, message.processed, message.total], ['COMPLETED', 2, 2]);
    assert.equal(status.headers.get('__TypeId__'), 'com.matchbridge.imports.NodesImportStatus');
  });

  it('imports a Parquet file of matches named by a request on a match topic', async () => {
    const domain = randomUUID();
    const file = join(tmpdir(), `mb-assembly-${randomUUID()}.parquet`);
    writeMatchParquet(file, 500, { codec: 'SNAPPY', rowGroupRows: 200 });
    const key = `incoming/matches/${domain}/match-group/matches.parquet`;
    await assembly.s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }),
    );
    await rm(file);
    const request = {
      domainId: domain,
      groupId: 'match-group',
      filePath: `s3://${bucket}/${key}`,
      contentType: 'application/vnd.apache.parquet',
    };

    await produce('matchbridge-matches', [JSON.stringify(request)]);
    await assembly.deliverKafka('matchbridge-matches', 1);
    await assembly.settled();

    const job = await jobOf(domain);
    assert.deepEqual([job.kind, job.status], ['matches', 'COMPLETED'], failures());
    const { rows } = await assembly.pool.query(
      `SELECT count(*)::int AS n FROM match_suggestions WHERE domain_id = $1 AND group_id = 'match-group'`,
      [domain],
    );
    assert.equal(rows[0].n, 500);
  });

  it('dead-letters an invalid Kafka request with its original record, and the batch still succeeds', async () => {
    const value = JSON.stringify({ domainId: 'nope', groupId: '' });

    const result = await assembly.lambda.invoke(
      assembly.lambda.byHandler('ingest').name,
      mskEvent([mskRecord(value, { topic: 'matchbridge-users', partition: 2, offset: 77, key: 'k-77' })]),
    );

    const outcome = result.payload as { deadLettered: { offset: number }[] };
    assert.deepEqual(
      outcome.deadLettered.map((d) => d.offset),
      [77],
    );
    const letters = await receiveAll(assembly.queueUrl('IngestDeadLettersRecords'));
    const letter = letters.find((l) => l.offset === 77);
    assert.ok(letter, `the letter of offset 77 among ${JSON.stringify(letters)}`);
    assert.equal(letter.topic, 'matchbridge-users');
    assert.equal(letter.partition, 2);
    const encoding = letter.valueEncoding === 'base64' ? 'base64' : 'utf8';
    assert.equal(Buffer.from(String(letter.value), encoding).toString(), value);
    assert.equal(typeof letter.reason, 'string');
  });

  it('retries a batch that met a database outage, by the Retry of the definition, and completes the job', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/g/outage.csv`;
    await assembly.s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'reference_id\no1\no2\no3\n' }),
    );
    let cut = false;
    assembly.lambda.beforeInvoke = (fn) => {
      if (fn.handlerName === 'load-batch' && !cut) {
        cut = true;
        assembly.db.cut();
      }
    };
    assembly.lambda.afterInvoke = (fn, record) => {
      if (fn.handlerName === 'load-batch' && record.errorType !== undefined) assembly.db.restore();
    };
    try {
      await assembly.lambda.invoke(
        assembly.lambda.byHandler('ingest').name,
        mskEvent([
          mskRecord(JSON.stringify({ domainId: domain, groupId: 'g', filePath: `s3://${bucket}/${key}` }), {
            topic: 'matchbridge-users',
            offset: 500,
          }),
        ]),
      );
      await assembly.settled();
    } finally {
      assembly.lambda.beforeInvoke = undefined;
      assembly.lambda.afterInvoke = undefined;
      assembly.db.restore();
    }

    const loads = assembly.lambda.invocations.filter(
      (i) => i.handlerName === 'load-batch' && JSON.stringify(i.event).includes(domain),
    );
    const failed = loads.filter((i) => i.errorType !== undefined);
    assert.ok(failed.length >= 1, `a load-batch invocation failed during the outage: ${failures()}`);
    const retried = retryOf(assembly.machines.import?.definition, 'LoadBatch') ?? [];
    for (const failure of failed) {
      assert.ok(
        retried.some((rule) => rule.ErrorEquals.includes(String(failure.errorType))),
        `the bundle threw ${failure.errorType}, which the LoadBatch Retry names (${JSON.stringify(retried)})`,
      );
    }
    const job = await jobOf(domain);
    assert.equal(job.status, 'COMPLETED', failures());
    assert.deepEqual(
      (await nodesOf(domain, 'g')).map(([reference]) => reference),
      ['o1', 'o2', 'o3'],
    );
  });

  async function produce(topic: string, values: readonly string[]): Promise<void> {
    const producer = new Producer({
      clientId: 'assembly-producer',
      bootstrapBrokers: [assembly.kafka.bootstrap],
      serializers: stringSerializers,
      autocreateTopics: true,
    });
    try {
      await producer.send({ messages: values.map((value) => ({ topic, value })) });
    } finally {
      await producer.close();
    }
  }

  async function receiveAll(queueUrl: string): Promise<Record<string, unknown>[]> {
    const bodies: Record<string, unknown>[] = [];
    for (;;) {
      const { Messages = [] } = await assembly.sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return bodies;
      for (const message of Messages) bodies.push(JSON.parse(message.Body ?? '{}'));
    }
  }
});
