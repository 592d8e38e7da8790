import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { config } from '../../../lib/config.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { openLocalIngest } from '../../../lib/local/ingest.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { closeRuntimeDeps } from '../../../lib/runtime/deps.ts';
import { closeExportDeps } from '../../../lib/runtime/export-deps.ts';
import { IMPORT_REQUEST_MAX_BYTES } from '../../../lib/settings.ts';
import { testDatabase } from '../../support/database.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import { createDomain, outboxRequests } from './support.ts';

const USERS = 50_000;

// Regression: the export split usernames into requests of up to 900,000 bytes and ingest dead-lettered
// everything over 256 KiB, so a large group that is not cost-based never imported.
describe('user export of a large group at the default request size limit', { timeout: 600_000 }, () => {
  let dir: string;
  let home: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-export-limit-'));
    home = join(dir, 'home');
    const db = await testDatabase('export_limit');
    pool = db.pool;
    closeDb = db.close;
    // No EXPORT_MESSAGE_MAX_BYTES: the default is what is under test.
    initLocalConfig({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: home });
  });
  after(async () => {
    await closeExportDeps();
    await closeRuntimeDeps();
    await closeDb?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`${USERS} usernames: every request within the shared limit is taken by ingest and imported`, async () => {
    const domainId = await createDomain(pool, [['large', false]]);
    await pool.query(
      `INSERT INTO users (domain_id, group_id, username, ready_for_matching)
       SELECT $1, 'large', 'member-' || lpad(i::text, 6, '0') || '-' || md5(i::text), true
         FROM generate_series(1, $2::int) AS i`,
      [domainId, USERS],
    );

    const summary = await runExportLocally({ domainId, trigger: 'test' });
    const requests = await outboxRequests(home, summary.runId);
    const local = openLocalIngest(config());
    const outcome = await ingestRecords(
      mskEvent(
        requests.map((r, offset) =>
          mskRecord(r.value, { topic: r.topic, offset, key: r.key, headers: { ...r.headers } }),
        ),
      ),
      local.deps,
    );

    assert.equal(summary.groups[0]?.exported, USERS);
    assert.ok(requests.length > 1, `${requests.length} request(s)`);
    for (const r of requests) assert.ok(Buffer.byteLength(r.value) <= IMPORT_REQUEST_MAX_BYTES);
    assert.deepEqual(outcome.deadLettered, []);
    assert.deepEqual(outcome.batchItemFailures, []);
    assert.equal(outcome.started.length, requests.length);
    const jobs = [...local.starter.finished.values()];
    assert.ok(jobs.every((j) => j.status === 'COMPLETED'));
    const { rows } = await pool.query<{ count: string }>(
      `SELECT count(*) FROM nodes WHERE domain_id = $1 AND group_id = 'large'`,
      [domainId],
    );
    assert.equal(Number(rows[0]?.count), USERS);
  });
});
