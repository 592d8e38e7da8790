import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createOrClaimJob, setJobTotal } from '../../../lib/jobs/job-repository.ts';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '8c7b6a5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d';

describe('matchbridge jobs show of a running job', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  const jobId = randomUUID();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-cli-progress-'));
    const db = await testDatabase('cli_progress');
    pool = db.pool;
    closeDb = db.close;
    env = { DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home') };
    // A job planned into 4 batches, 1 done, whose committed DB batches hold 2,500 of its 10,000 rows.
    await createOrClaimJob(pool, {
      jobId,
      kind: 'nodes',
      domainId: DOMAIN,
      groupId: 'g',
      source: 's3://b/k.csv',
      origin: 'test',
    });
    await setJobTotal(pool, jobId, 10_000, 4);
    await pool.query(
      `UPDATE import_jobs SET rows_done = 2500, rows_written = 2490, rows_failed = 10, batches_done = 1,
              progress_seq = progress_seq + 1, progress_at = started_at + interval '5 seconds'
       WHERE id = $1`,
      [jobId],
    );
  });
  after(async () => {
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the running counters: rows written so far, and the progress', async () => {
    const json = await cli(['jobs', 'show', jobId, '--json'], env);
    const text = await cli(['jobs', 'show', jobId], env);

    assert.equal(json.code, 0, json.stderr);
    const shown = JSON.parse(json.stdout);
    assert.deepEqual(
      [shown.status, shown.processed, shown.total, shown.progress.rowsDone, shown.progress.batchesTotal],
      ['PROCESSING', 2490, 10_000, 2500, 4],
    );
    assert.equal(shown.progress.percentage, 25);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^Progress: batches 1\/4 · 2,500\/10,000 rows \(25\.0%\) · 500 rows\/s · ETA 15s · 10 failed rows$/m,
    );
  });
});
