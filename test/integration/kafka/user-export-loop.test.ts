import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { runKafkaBridge } from '../../../lib/local/kafka-bridge.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';
import {
  createDomain,
  expectedMetadata,
  insertUsers,
  localS3Export,
  nodesOf,
  type TestUser,
} from '../export/support.ts';

const TOPIC = 'loop-users';

const PAID: TestUser[] = [
  { username: 'alice', bio: '=1+1', display_name: 'Alice, "A"', smokes: false, preferred_genders: ['male'] },
  { username: '@bob', bio: 'line\nbreak', preferred_min_age: 30 },
  { username: "'carol", location: '-Delhi' },
];
const FREE: TestUser[] = Array.from({ length: 120 }, (_, i) => ({ username: `+free-${i}` }));

describe('user export → Kafka → kafka-bridge → node import (real broker, S3-compatible store)', () => {
  let broker: KafkaBroker;
  before(async () => {
    broker = await startKafkaBroker();
    const admin = new Admin({ clientId: 'mb-test-admin', bootstrapBrokers: [broker.bootstrap] });
    try {
      await admin.createTopics({ topics: [TOPIC, 'nodes-import-status'], partitions: 1, replicas: 1 });
    } finally {
      await admin.close();
    }
  });
  const suite = localS3Export('user_export_loop', 'mb-exports', () => ({
    KAFKA_BROKERS: broker.bootstrap,
    EXPORT_MESSAGE_MAX_BYTES: '1024',
    STATUS_PUBLISH_BACKOFF_MS: '50',
  }));
  // After the suite's producers closed.
  after(async () => broker?.stop());

  it('imports every exported group with zero failures: nodes equal the exported users', {
    timeout: 240_000,
  }, async () => {
    const domainId = await createDomain(suite.pool, [
      ['paid', true, TOPIC],
      ['free', false, TOPIC],
    ]);
    await insertUsers(suite.pool, domainId, 'paid', PAID);
    await insertUsers(suite.pool, domainId, 'free', FREE);

    const summary = await runExportLocally({ domainId, trigger: 'test' });

    assert.equal(summary.failed, 0);
    const paid = summary.groups.find((g) => g.groupId === 'paid');
    const free = summary.groups.find((g) => g.groupId === 'free');
    assert.equal(
      paid?.file,
      `s3://${suite.s3.bucket}/exports/users/${domainId}/paid/users_${summary.date}.csv.gz`,
    );
    assert.ok((free?.messages ?? 0) > 1);
    const requests = (paid?.messages ?? 0) + (free?.messages ?? 0);

    const controller = new AbortController();
    let started = 0;
    const bridge = runKafkaBridge({
      brokers: [broker.bootstrap],
      topics: [TOPIC],
      groupId: 'mb-test-export-loop',
      signal: controller.signal,
      onEvent: (_event, outcome) => {
        assert.deepEqual(outcome.deadLettered, []);
        started += outcome.started.length;
        if (started >= requests) controller.abort();
      },
    });
    const timer = setTimeout(() => controller.abort(), 180_000);
    const bridged = await bridge.finally(() => clearTimeout(timer));

    assert.equal(bridged.started, requests);
    const { rows } = await suite.pool.query(
      `SELECT group_id, status, failed_count::int AS failed FROM import_jobs WHERE domain_id = $1 ORDER BY group_id`,
      [domainId],
    );
    assert.equal(rows.length, requests);
    assert.ok(
      rows.every((r) => r.status === 'COMPLETED' && r.failed === 0),
      JSON.stringify(rows),
    );
    assert.deepEqual(
      await nodesOf(suite.pool, domainId, 'paid'),
      new Map(PAID.map((u) => [u.username, expectedMetadata(u, 'paid')])),
    );
    assert.deepEqual(
      [...(await nodesOf(suite.pool, domainId, 'free')).keys()].sort(),
      FREE.map((u) => u.username).sort(),
    );
  });
});
