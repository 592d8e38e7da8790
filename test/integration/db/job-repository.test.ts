import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createPool } from '../../../lib/db/pool.ts';
import { streamJobErrors } from '../../../lib/jobs/job-error-repository.ts';
import {
  completeJob,
  createOrClaimJob,
  failJob,
  getJob,
  listJobs,
  type NewImportJob,
  setJobTotal,
} from '../../../lib/jobs/job-repository.ts';
import { getLatestStatusEvent, recordStatusEvent } from '../../../lib/jobs/status-event-repository.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';

const OUTCOME = {
  status: 'COMPLETED',
  total: 10,
  processed: 9,
  successCount: 9,
  failedCount: 0,
  duplicateCount: 1,
  successListUri: 's3://bucket/reports/success.csv',
} as const;

describe('job repository', () => {
  let db: TestDatabase;

  before(async () => {
    db = await testDatabase('job_repository');
  });

  after(async () => {
    await db.close();
  });

  function newJob(overrides: Partial<NewImportJob> = {}): NewImportJob {
    return {
      jobId: randomUUID(),
      kind: 'nodes',
      domainId: randomUUID(),
      groupId: 'group-1',
      source: 's3://bucket/users.csv.gz',
      origin: 'kafka:x-users/0/42',
      ...overrides,
    };
  }

  describe('createOrClaimJob', () => {
    it('creates the job and claims it once', async () => {
      const job = newJob();

      const first = await createOrClaimJob(db.pool, job);
      const second = await createOrClaimJob(db.pool, job);

      assert.equal(first.claimed, true);
      assert.equal(first.job.status, 'PROCESSING');
      assert.equal(first.job.jobId, job.jobId);
      assert.equal(first.job.id, job.jobId);
      assert.equal(first.job.source, job.source);
      assert.equal(first.job.origin, job.origin);
      assert.ok(first.job.startedAt instanceof Date);
      assert.equal(second.claimed, false);
      assert.equal(second.job.status, 'PROCESSING');
    });

    it('claims once when two callers race', async () => {
      const job = newJob();

      const results = await Promise.all([createOrClaimJob(db.pool, job), createOrClaimJob(db.pool, job)]);

      assert.deepEqual(results.map((r) => r.claimed).sort(), [false, true]);
    });

    it('lets the same execution claim again (a retried step) but not another one', async () => {
      const job = newJob({ executionId: 'arn:aws:states:exec-1' });
      await createOrClaimJob(db.pool, job);

      const same = await createOrClaimJob(db.pool, job);
      const other = await createOrClaimJob(db.pool, { ...job, executionId: 'arn:aws:states:exec-2' });

      assert.equal(same.claimed, true);
      assert.equal(other.claimed, false);
      assert.equal(other.job.executionId, 'arn:aws:states:exec-1');
    });

    it('returns a finished job unclaimed and untouched', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);
      const done = await completeJob(db.pool, job.jobId, OUTCOME);

      const again = await createOrClaimJob(db.pool, job);

      assert.equal(again.claimed, false);
      assert.equal(again.job.status, 'COMPLETED');
      assert.equal(again.job.finishedAt?.getTime(), done.finishedAt?.getTime());
    });

    it('refuses a job id already used in another domain', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);

      await assert.rejects(createOrClaimJob(db.pool, { ...job, domainId: randomUUID() }), {
        name: 'InvalidRequestError',
        code: 'JOB_ID_CONFLICT',
      });
    });
  });

  describe('final states', () => {
    it('completeJob records the outcome', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);

      const done = await completeJob(db.pool, job.jobId, OUTCOME);

      assert.equal(done.status, 'COMPLETED');
      assert.equal(done.total, 10);
      assert.equal(done.processed, 9);
      assert.equal(done.successCount, 9);
      assert.equal(done.duplicateCount, 1);
      assert.equal(done.successListUri, OUTCOME.successListUri);
      assert.equal(done.failedListUri, null);
      assert.ok(done.finishedAt instanceof Date);
    });

    it('failJob does not overwrite COMPLETED', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);
      await completeJob(db.pool, job.jobId, OUTCOME);

      const after = await failJob(db.pool, job.jobId, 'States.Timeout', { code: 'JOB_FAILED' });

      assert.equal(after.status, 'COMPLETED');
      assert.equal(after.failureReason, null);
      assert.equal((await getJob(db.pool, job.jobId))?.status, 'COMPLETED');
    });

    it('failJob fails a running job, and completeJob does not overwrite that', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);

      const failed = await failJob(db.pool, job.jobId, 'DatabaseUnavailableError: gone', {
        code: 'DATABASE_UNAVAILABLE',
      });
      const after = await completeJob(db.pool, job.jobId, OUTCOME);

      assert.equal(failed.status, 'FAILED');
      assert.equal(failed.failureReason, 'DatabaseUnavailableError: gone');
      assert.equal(after.status, 'FAILED');
      assert.equal(after.processed, 0);
    });

    it('failJob records a job that was never created when told what it was', async () => {
      const job = newJob();

      const failed = await failJob(
        db.pool,
        job.jobId,
        'plan failed',
        { code: 'JOB_FAILED' },
        {
          jobId: job.jobId,
          kind: 'nodes',
          domainId: job.domainId,
          groupId: job.groupId,
          source: { uri: job.source },
          origin: job.origin,
        },
      );

      assert.equal(failed.status, 'FAILED');
      assert.equal(failed.domainId, job.domainId);
      assert.equal(failed.source, job.source);
    });

    it('throws JobNotFoundError for an unknown job', async () => {
      await assert.rejects(failJob(db.pool, randomUUID(), 'x', { code: 'JOB_FAILED' }), {
        name: 'JobNotFoundError',
      });
      await assert.rejects(completeJob(db.pool, randomUUID(), OUTCOME), { name: 'JobNotFoundError' });
      await assert.rejects(setJobTotal(db.pool, randomUUID(), 3), { name: 'JobNotFoundError' });
    });
  });

  it('setJobTotal records the total of a running job', async () => {
    const job = newJob();
    await createOrClaimJob(db.pool, job);

    await setJobTotal(db.pool, job.jobId, 100_000);

    assert.equal((await getJob(db.pool, job.jobId))?.total, 100_000);
  });

  it('getJob and listJobs are scoped by domain', async () => {
    const domainId = randomUUID();
    const jobs = [newJob({ domainId }), newJob({ domainId }), newJob({ domainId })];
    for (const job of jobs) await createOrClaimJob(db.pool, job);
    await createOrClaimJob(db.pool, newJob());

    const listed = await listJobs(db.pool, { limit: 2, domainId });
    const all = await listJobs(db.pool, { limit: 100 });

    assert.equal(listed.length, 2);
    assert.ok(listed.every((j) => j.domainId === domainId));
    assert.deepEqual(
      listed.map((j) => j.jobId),
      [jobs[2]?.jobId, jobs[1]?.jobId],
    );
    assert.ok(all.length >= 4);
    assert.equal(await getJob(db.pool, jobs[0]!.jobId, randomUUID()), undefined);
    assert.equal((await getJob(db.pool, jobs[0]!.jobId, domainId))?.jobId, jobs[0]?.jobId);
  });

  describe('streamJobErrors', () => {
    it('streams every error in line order', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);
      const lines = Array.from({ length: 2500 }, (_, i) => 2500 - i + 1);
      await db.pool.query(
        `INSERT INTO import_job_errors (job_id, domain_id, line, reference, code, reason)
         SELECT $1, $2, l, 'ref-' || l, 'FIELD_COUNT', 'expected 3 fields' FROM unnest($3::bigint[]) AS l`,
        [job.jobId, job.domainId, lines],
      );

      const streamed = [];
      for await (const error of streamJobErrors(db.pool, job.jobId)) streamed.push(error);

      assert.equal(streamed.length, 2500);
      assert.deepEqual(
        streamed.map((e) => e.line),
        [...lines].sort((a, b) => a - b),
      );
      assert.deepEqual(streamed[0], {
        line: 2,
        reference: 'ref-2',
        code: 'FIELD_COUNT',
        reason: 'expected 3 fields',
      });
    });

    it('gives its connection back when the consumer stops early', async () => {
      const job = newJob();
      await createOrClaimJob(db.pool, job);
      await db.pool.query(
        `INSERT INTO import_job_errors (job_id, domain_id, line, code, reason)
         SELECT $1, $2, l, 'X', 'x' FROM generate_series(1, 1500) AS l`,
        [job.jobId, job.domainId],
      );
      const single = createPool({ connectionString: db.url, max: 1 });
      try {
        let seen = 0;
        for await (const _ of streamJobErrors(single, job.jobId)) {
          seen += 1;
          if (seen === 10) break;
        }

        const { rows } = await single.query<{ open: boolean }>(
          'SELECT now() = statement_timestamp() AS open',
        );
        assert.equal(seen, 10);
        assert.equal(rows[0]?.open, true, 'the connection is no longer inside the cursor transaction');
      } finally {
        await single.end();
      }
    });
  });

  it('records status messages and returns the latest', async () => {
    const job = newJob();
    await createOrClaimJob(db.pool, job);
    const message = (status: 'COMPLETED' | 'FAILED'): JobStatusMessage => ({
      jobId: job.jobId,
      kind: 'nodes',
      groupId: job.groupId,
      domainId: job.domainId,
      status,
      processed: 1,
      total: 2,
      successList: ['a'],
      failedList: ['b'],
      startedAt: new Date(0).toISOString(),
      finishedAt: new Date(1000).toISOString(),
    });

    await recordStatusEvent(db.pool, job.jobId, 'nodes-import-status', message('FAILED'));
    await recordStatusEvent(db.pool, job.jobId, 'nodes-import-status', message('COMPLETED'), {
      status: 'PENDING',
    });

    assert.deepEqual(await getLatestStatusEvent(db.pool, job.jobId), message('COMPLETED'));
    assert.equal(await getLatestStatusEvent(db.pool, job.jobId, randomUUID()), undefined);
    const { rows } = await db.pool.query<{ delivery_status: string; published: boolean }>(
      `SELECT delivery_status, published_at IS NOT NULL AS published FROM job_status_events
       WHERE job_id = $1 ORDER BY id`,
      [job.jobId],
    );
    assert.deepEqual(rows, [
      { delivery_status: 'SENT', published: true },
      { delivery_status: 'PENDING', published: false },
    ]);
    await assert.rejects(recordStatusEvent(db.pool, randomUUID(), 't', message('FAILED')), {
      name: 'JobNotFoundError',
    });
  });
});
