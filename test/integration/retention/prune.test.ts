import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { METRIC_NAMES } from '../../../lib/observability/job-metrics.ts';
import { metrics } from '../../../lib/observability/logger.ts';
import { prune } from '../../../lib/retention/prune.ts';
import { RETENTION_DEFAULTS } from '../../../lib/settings.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';
import { daysAgo, insertExportRun, insertJob, insertKey, rowCounts } from './support.ts';

const SETTINGS = {
  retentionImportJobsDays: RETENTION_DEFAULTS.importJobsDays,
  retentionMatchJobsDays: RETENTION_DEFAULTS.matchJobsDays,
  retentionExportRunsDays: RETENTION_DEFAULTS.exportRunsDays,
};

const NOTHING = {
  import_jobs: 0,
  import_job_errors: 0,
  import_job_batches: 0,
  import_job_db_batches: 0,
  job_status_events: 0,
  export_jobs: 0,
  user_removals: 0,
  api_idempotency_keys: 0,
};

describe('prune', () => {
  let db: TestDatabase;
  const domainId = randomUUID();
  const jobs: Record<string, string> = {};
  const runs: Record<string, string> = {};

  before(async () => {
    db = await testDatabase('retention');
    const { pool } = db;
    await pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'retention')`, [domainId]);
    // Group g exported 50 days ago; group late last exported 120 days ago.
    for (const [group, exported] of [
      ['g', 50],
      ['late', 120],
    ] as const) {
      await pool.query(
        `INSERT INTO matching_groups (domain_id, group_id, name, last_exported_at) VALUES ($1, $2, $4, $3)`,
        [domainId, group, daysAgo(exported), group],
      );
    }
    jobs.oldCompleted = await insertJob(pool, domainId, { status: 'COMPLETED', age: 100, errors: 3 });
    jobs.oldFailed = await insertJob(pool, domainId, { status: 'FAILED', age: 95, errors: 5 });
    jobs.young = await insertJob(pool, domainId, { status: 'COMPLETED', age: 10 });
    jobs.oldRunning = await insertJob(pool, domainId, { status: 'PROCESSING', age: 200 });
    jobs.oldPending = await insertJob(pool, domainId, { status: 'PENDING', age: 200 });
    jobs.oldMatches = await insertJob(pool, domainId, {
      kind: 'matches',
      status: 'COMPLETED',
      age: 40,
      errors: 2,
    });
    jobs.nodesAsOld = await insertJob(pool, domainId, { status: 'COMPLETED', age: 40 });
    jobs.youngMatches = await insertJob(pool, domainId, { kind: 'matches', status: 'COMPLETED', age: 20 });
    runs.old = await insertExportRun(pool, domainId, 'COMPLETED', 100);
    runs.oldFailed = await insertExportRun(pool, domainId, 'FAILED', 120);
    runs.running = await insertExportRun(pool, domainId, 'PROCESSING', 200);
    runs.young = await insertExportRun(pool, domainId, 'COMPLETED', 3);
    await insertKey(pool, domainId, -1);
    await insertKey(pool, domainId, 1);
    await insertKey(pool, domainId, -1, 1);
    for (const [group, age] of [
      ['g', 100], // sent (older than g's last export) and old: goes
      ['gone', 95], // a group that no longer exists: goes
      ['g', 60], // sent, but younger than the retention: stays
      ['late', 100], // old, but not sent yet (late's last export is older): stays
    ] as const) {
      await pool.query(
        `INSERT INTO user_removals (domain_id, group_id, username, removed_at) VALUES ($1, $2, 'u', $3)`,
        [domainId, group, daysAgo(age)],
      );
    }
  });
  after(async () => {
    await db?.close();
  });

  const EXPECTED = {
    // oldCompleted, oldFailed and oldMatches (match jobs are kept 30 days, the others 90).
    import_jobs: 3,
    import_job_errors: 3 + 5 + 2,
    import_job_batches: 6,
    import_job_db_batches: 3,
    job_status_events: 3,
    export_jobs: 2,
    user_removals: 2,
    api_idempotency_keys: 1,
  };

  it('--dry-run counts what would go and changes nothing', async () => {
    const before = await rowCounts(db.pool, domainId);

    const result = await prune(db.pool, SETTINGS, { dryRun: true });

    assert.deepEqual(result, { dryRun: true, olderThanDays: null, deleted: EXPECTED });
    assert.deepEqual(await rowCounts(db.pool, domainId), before);
  });

  it('deletes what is past retention, keeps what is younger and every job that is not final', async () => {
    const before = await rowCounts(db.pool, domainId);
    metrics.clearMetrics();

    const result = await prune(db.pool, SETTINGS, { dryRun: false, sliceRows: 2 });

    assert.deepEqual(result, { dryRun: false, olderThanDays: null, deleted: EXPECTED });
    const total = Object.values(EXPECTED).reduce((sum, n) => sum + n, 0);
    assert.equal(
      metrics.serializeMetrics()[METRIC_NAMES.rowsPruned],
      total,
      'one sample of every row deleted',
    );
    const after = await rowCounts(db.pool, domainId);
    for (const [table, n] of Object.entries(EXPECTED))
      assert.equal(after[table], (before[table] ?? 0) - n, table);
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM import_jobs WHERE domain_id = $1', [
      domainId,
    ]);
    assert.deepEqual(
      rows.map((r) => r.id).sort(),
      [jobs.young, jobs.oldRunning, jobs.oldPending, jobs.nodesAsOld, jobs.youngMatches].sort(),
    );
    const kept = await db.pool.query<{ id: string }>('SELECT id FROM export_jobs WHERE domain_id = $1', [
      domainId,
    ]);
    assert.deepEqual(kept.rows.map((r) => r.id).sort(), [runs.running, runs.young].sort());
  });

  it('is idempotent: a second run deletes nothing', async () => {
    const result = await prune(db.pool, SETTINGS, { dryRun: false });
    assert.deepEqual(result.deleted, NOTHING);
  });

  it('--older-than applies one age to every kind, still never a job that is not final', async () => {
    const result = await prune(db.pool, SETTINGS, { dryRun: false, olderThanDays: 5 });

    assert.equal(result.olderThanDays, 5);
    assert.equal(result.deleted.import_jobs, 3);
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM import_jobs WHERE domain_id = $1', [
      domainId,
    ]);
    assert.deepEqual(rows.map((r) => r.id).sort(), [jobs.oldRunning, jobs.oldPending].sort());
    assert.equal(result.deleted.export_jobs, 0, 'the 3-day-old run stays, the running one too');
    assert.equal(result.deleted.user_removals, 1, 'the 60-day-old tombstone g has sent goes; late’s stays');
  });
});

describe('prune stopped by its deadline', () => {
  let db: TestDatabase;
  const domainId = randomUUID();

  before(async () => {
    db = await testDatabase('retention_deadline');
    await insertJob(db.pool, domainId, { status: 'COMPLETED', age: 100, errors: 5 });
  });
  after(async () => {
    await db?.close();
  });

  it('throws DeadlineExceededError and still reports the rows it deleted before the deadline', async () => {
    const deadline = new AbortController();
    // The deadline passes once the first slice of error rows is deleted.
    const pool = new Proxy(db.pool, {
      get(target, key, receiver) {
        if (key !== 'query') return Reflect.get(target, key, receiver);
        return async (...args: unknown[]) => {
          const result: unknown = await Reflect.apply(target.query, target, args);
          if (String(args[0]).includes('DELETE FROM import_job_errors')) deadline.abort();
          return result;
        };
      },
    });
    metrics.clearMetrics();

    await assert.rejects(prune(pool, SETTINGS, { dryRun: false, sliceRows: 2, signal: deadline.signal }), {
      name: 'DeadlineExceededError',
    });

    assert.equal(metrics.serializeMetrics()[METRIC_NAMES.rowsPruned], 2, 'the one slice deleted');
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM import_job_errors WHERE domain_id = $1',
      [domainId],
    );
    assert.equal(rows[0]?.n, 3, 'the rest stays for the next prune');
  });
});
