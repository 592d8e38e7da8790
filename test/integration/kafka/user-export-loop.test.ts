import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import type pg from 'pg';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { runKafkaBridge } from '../../../lib/local/kafka-bridge.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { closeRuntimeDeps } from '../../../lib/runtime/deps.ts';
import { closeExportDeps } from '../../../lib/runtime/export-deps.ts';
import { testDatabase } from '../../support/database.ts';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';
import { createDomain, expectedMetadata, insertUsers, nodesOf, type TestUser } from '../export/support.ts';

const TOPIC = 'loop-users';

const PAID: TestUser[] = [
  { username: 'alice', bio: '=1+1', display_name: 'Alice, "A"', smokes: false, preferred_genders: ['male'] },
  { username: '@bob', bio: 'line\nbreak', preferred_min_age: 30 },
  { username: "'carol", location: '-Delhi' },
];
const FREE: TestUser[] = Array.from({ length: 120 }, (_, i) => ({ username: `+free-${i}` }));

describe('user export → Kafka → kafka-bridge → node import (real broker, S3-compatible store)', () => {
  let broker: KafkaBroker;
  let s3: TestS3;
  let dir: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;

  before(async () => {
    broker = await startKafkaBroker();
    s3 = await startTestS3('mb-exports');
    dir = await mkdtemp(join(tmpdir(), 'mb-export-loop-'));
    const db = await testDatabase('user_export_loop');
    pool = db.pool;
    closeDb = db.close;
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      KAFKA_BROKERS: broker.bootstrap,
      S3_ENDPOINT: s3.endpoint,
      EXPORT_BUCKET: s3.bucket,
      EXPORT_MESSAGE_MAX_BYTES: '1024',
      STATUS_PUBLISH_BACKOFF_MS: '50',
    });
    const admin = new Admin({ clientId: 'mb-test-admin', bootstrapBrokers: [broker.bootstrap] });
    try {
      await admin.createTopics({ topics: [TOPIC, 'nodes-import-status'], partitions: 1, replicas: 1 });
    } finally {
      await admin.close();
    }
  });
  after(async () => {
    await closeExportDeps();
    await closeRuntimeDeps();
    await closeDb?.();
    await broker?.stop();
    await s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports every exported group with zero failures: nodes equal the exported users', {
    timeout: 240_000,
  }, async () => {
    const domainId = await createDomain(pool, [
      ['paid', true, TOPIC],
      ['free', false, TOPIC],
    ]);
    await insertUsers(pool, domainId, 'paid', PAID);
    await insertUsers(pool, domainId, 'free', FREE);

    const summary = await runExportLocally({ domainId, trigger: 'test' });

    assert.equal(summary.failed, 0);
    const paid = summary.groups.find((g) => g.groupId === 'paid');
    const free = summary.groups.find((g) => g.groupId === 'free');
    assert.equal(paid?.file, `s3://${s3.bucket}/exports/users/${domainId}/paid/users_${summary.date}.csv.gz`);
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
    const { rows } = await pool.query(
      `SELECT group_id, status, failed_count::int AS failed FROM import_jobs WHERE domain_id = $1 ORDER BY group_id`,
      [domainId],
    );
    assert.equal(rows.length, requests);
    assert.ok(
      rows.every((r) => r.status === 'COMPLETED' && r.failed === 0),
      JSON.stringify(rows),
    );
    assert.deepEqual(
      await nodesOf(pool, domainId, 'paid'),
      new Map(PAID.map((u) => [u.username, expectedMetadata(u, 'paid')])),
    );
    assert.deepEqual(
      [...(await nodesOf(pool, domainId, 'free')).keys()].sort(),
      FREE.map((u) => u.username).sort(),
    );
  });
});
