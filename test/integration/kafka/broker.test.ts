import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Admin,
  Consumer,
  type Message,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';

type StringMessage = Message<string, string, string, string>;

describe('test Kafka broker (KRaft, single node)', () => {
  let broker: KafkaBroker;
  let admin: Admin;

  before(async () => {
    broker = await startKafkaBroker();
    admin = new Admin({ clientId: 'mb-test-admin', bootstrapBrokers: [broker.bootstrap] });
  });
  after(async () => {
    if (admin && !admin.closed) await admin.close();
    await broker?.stop();
  });

  it('advertises itself on 127.0.0.1 as node 1', async () => {
    const metadata = await admin.metadata({ topics: [] });

    assert.match(broker.bootstrap, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      [...metadata.brokers.entries()].map(([id, { host, port }]) => ({ id, address: `${host}:${port}` })),
      [{ id: 1, address: broker.bootstrap }],
    );
  });

  it('delivers keyed messages with headers to a consumer group, from the beginning, and keeps its offsets', {
    timeout: 60_000,
  }, async () => {
    const topic = `mb-test-${randomUUID()}`;
    const groupId = `mb-test-group-${randomUUID()}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const producer = new Producer({
      clientId: 'mb-test-producer',
      bootstrapBrokers: [broker.bootstrap],
      serializers: stringSerializers,
    });
    const sent = [1, 2, 3].map((n) => ({
      topic,
      key: `user-${n}`,
      value: JSON.stringify({ n }),
      headers: { 'content-type': 'application/json', attempt: String(n) },
    }));
    await producer.send({ messages: sent }).finally(() => producer.close());

    const consumer = new Consumer({
      clientId: 'mb-test-consumer',
      groupId,
      bootstrapBrokers: [broker.bootstrap],
      deserializers: stringDeserializers,
      maxWaitTime: 500,
    });
    const received: StringMessage[] = [];
    try {
      const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' });
      for await (const message of stream) {
        received.push(message);
        await message.commit();
        if (received.length === sent.length) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    const [committed] = await admin.listConsumerGroupOffsets({ groups: [groupId] });

    assert.deepEqual(
      received.map((message) => ({
        topic: message.topic,
        key: message.key,
        value: message.value,
        headers: Object.fromEntries(message.headers),
        offset: message.offset,
      })),
      sent.map((message, index) => ({ ...message, offset: BigInt(index) })),
    );
    assert.deepEqual(
      committed?.topics.map(({ name, partitions }) => ({
        name,
        offsets: partitions.map((partition) => partition.committedOffset),
      })),
      [{ name: topic, offsets: [3n] }],
    );
  });

  it('stop() ends the broker: its port refuses connections afterwards', async () => {
    const [host, port] = broker.bootstrap.split(':');

    await admin.close();
    await broker.stop();

    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port: Number(port) }, () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      }),
      { code: 'ECONNREFUSED' },
    );
  });
});

describe('startKafkaBroker without Java', () => {
  let emptyDir: string;
  const path = process.env.PATH;

  before(async () => {
    emptyDir = await mkdtemp(join(tmpdir(), 'mb-no-java-'));
  });
  after(async () => {
    process.env.PATH = path;
    await rm(emptyDir, { recursive: true, force: true });
  });

  it('fails loudly with KAFKA_UNAVAILABLE instead of skipping', async () => {
    process.env.PATH = emptyDir;
    try {
      await assert.rejects(startKafkaBroker(), {
        name: 'KafkaUnavailableError',
        code: 'KAFKA_UNAVAILABLE',
        message: /^KAFKA_UNAVAILABLE: Java 17\+ is needed/,
      });
    } finally {
      process.env.PATH = path;
    }
  });
});
