import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { cli } from '../../support/cli.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';
import { describeMemory, runWithMemoryProbe } from '../../support/memory-run.ts';
import { insertJob } from './support.ts';

const ERRORS = 1_000_000;
/** Rows of the import that runs meanwhile, every 1000th without a reference id (a failed row). */
const ROWS = 200_000;
const MB = 1024 * 1024;
/** Peak RSS of the whole `prune` command; the error rows' ids alone would be tens of MB more. */
const PEAK_RSS_BOUND = 300 * MB;
/** What the command may hold after a collection: its code and one slice, not the rows. */
const LIVE_HEAP_BOUND = 64 * MB;

describe('prune of a job with 1M error rows while an import runs', () => {
  let db: TestDatabase;
  let dir: string;
  let csv: string;
  const domainId = randomUUID();
  let oldJob: string;

  before(async () => {
    db = await testDatabase('prune_large');
    dir = await mkdtemp(join(tmpdir(), 'mb-prune-'));
    oldJob = await insertJob(db.pool, domainId, { status: 'FAILED', age: 200, errors: ERRORS });
    csv = join(dir, 'live.csv');
    async function* lines(): AsyncGenerator<string> {
      yield 'reference_id,note\n';
      for (let i = 0; i < ROWS; i++) yield `${i % 1000 === 999 ? '' : `r-${i}`},note ${i}\n`;
    }
    await pipeline(Readable.from(lines()), createWriteStream(csv));
  });
  after(async () => {
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('deletes the old job and its million errors in slices, with flat memory, and leaves the running import whole', async (t) => {
    const env = { DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home') };
    const importing = cli(['import', 'nodes', csv, '--domain', domainId, '--group', 'live', '--json'], {
      ...env,
      DB_BATCH_ROWS: '2000',
    });
    // Prune once the import's job is open (not final): it must be left alone.
    let open = false;
    for (let tries = 0; tries < 1200 && !open; tries++) {
      const { rows } = await db.pool.query<{ status: string }>(
        `SELECT status FROM import_jobs WHERE domain_id = $1 AND group_id = 'live'`,
        [domainId],
      );
      open = rows[0]?.status === 'PROCESSING' || rows[0]?.status === 'PENDING';
      if (!open) await sleep(100);
    }

    const { stdout, memory, ms } = await runWithMemoryProbe(
      [join('bin', 'matchbridge.js'), 'prune', '--json'],
      env,
    );
    const imported = await importing;

    const result = JSON.parse(stdout) as {
      dryRun: boolean;
      olderThanDays: number | null;
      deleted: Record<string, number>;
    };
    t.diagnostic(
      `${ERRORS} error rows pruned in ${(ms / 1000).toFixed(1)} s (the import was ${open ? 'open' : 'not seen open'}); ${describeMemory(memory)}`,
    );
    assert.equal(result.dryRun, false);
    assert.equal(result.olderThanDays, null);
    assert.equal(result.deleted.import_jobs, 1);
    assert.equal(result.deleted.import_job_errors, ERRORS);
    assert.ok(memory.samples > 0, 'the probe sampled');
    assert.ok(memory.maxRssBytes < PEAK_RSS_BOUND, describeMemory(memory));
    assert.ok(memory.liveHeapBytes < LIVE_HEAP_BOUND, describeMemory(memory));
    const left = await db.pool.query('SELECT 1 FROM import_job_errors WHERE job_id = $1 LIMIT 1', [oldJob]);
    assert.equal(left.rowCount, 0);

    // The import ran to its end beside the prune, every row counted and every failed row kept.
    const message = JSON.parse(imported.stdout) as JobStatusMessage;
    const failed = ROWS / 1000;
    assert.deepEqual(
      [message.status, message.total, message.processed, message.failedList.length > 0],
      ['FAILED', ROWS, ROWS - failed, true],
    );
    const { rows } = await db.pool.query<{ errors: string; nodes: string }>(
      `SELECT (SELECT count(*) FROM import_job_errors WHERE job_id = $1) AS errors,
              (SELECT count(*) FROM nodes WHERE domain_id = $2 AND group_id = 'live') AS nodes`,
      [message.jobId, domainId],
    );
    assert.deepEqual(rows[0], { errors: String(failed), nodes: String(ROWS - failed) });
  });
});
