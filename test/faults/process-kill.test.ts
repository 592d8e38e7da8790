import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { loadConfig } from '../../lib/config.ts';
import { planCsvRanges } from '../../lib/csv/plan-csv.ts';
import { cli, ROOT } from '../support/cli.ts';
import { groupState, importNodes } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const DOMAIN = '4b3a2918-0f7e-4d6c-9b5a-4e3d2c1b0a99';
const ROWS = 6000;
// Batches of ~16 KB (some 800 rows), each written in one DB transaction: a batch held by the lock below has
// committed nothing when the process dies.
const SETTINGS = { SPLIT_BYTES: String(16 * 1024), DB_BATCH_ROWS: '5000' };

describe('the process killed in the middle of a job, then `jobs resume`', () => {
  const suite = localPipeline('process_kill', SETTINGS);
  let file: string;
  let batches: number;

  before(async () => {
    const lines = ['reference_id,shelf'];
    for (let row = 0; row < ROWS; row++) lines.push(`k-${String(row).padStart(5, '0')},shelf ${row % 7}`);
    const csv = `${lines.join('\n')}\n`;
    file = join(suite.dir, 'nodes.csv');
    await writeFile(file, csv);
    const cfg = loadConfig(SETTINGS);
    const plan = await planCsvRanges(Readable.from([Buffer.from(csv)]), {
      uri: file,
      size: csv.length,
      splitBytes: cfg.splitBytes,
      maxBatches: cfg.maxBatches,
      maxRecordBytes: cfg.maxRecordBytes,
    });
    batches = plan.batches.length;
  });

  const stateOf = (groupId: string) => groupState(suite.pool, DOMAIN, groupId);

  it('resumes the job: completed batches are skipped, the rest loads, counts are those of one run', async () => {
    const env = { ...SETTINGS, DATABASE_URL: suite.url, MATCHBRIDGE_HOME: join(suite.dir, 'cli-home') };
    const clean = await importNodes(DOMAIN, 'clean', file);
    // An uncommitted insert of a key of one batch holds that batch; the process is killed once every other
    // batch has recorded its completion.
    const blocker = await suite.pool.connect();
    blocker.on('error', () => {});
    try {
      await blocker.query('BEGIN');
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await blocker.query(
        `INSERT INTO nodes (id, reference_id, group_id, domain_id) VALUES (gen_random_uuid(), 'k-04000', 'killed', $1)`,
        [DOMAIN],
      );
      const importing = spawn(
        process.execPath,
        [
          join(ROOT, 'bin', 'matchbridge.js'),
          'import',
          'nodes',
          file,
          '--domain',
          DOMAIN,
          '--group',
          'killed',
          '--json',
        ],
        { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' },
      );
      const exited = once(importing, 'exit');
      for (;;) {
        const { rows: state } = await suite.pool.query<{ blocked: boolean; done: string }>(
          `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))) AS blocked,
                  (SELECT count(*) FROM import_job_batches b JOIN import_jobs j ON j.id = b.job_id
                   WHERE j.group_id = 'killed') AS done`,
          [rows[0]?.pid],
        );
        if (state[0]?.blocked && Number(state[0].done) === batches - 1) break;
        await setImmediate();
      }
      importing.kill('SIGKILL');
      await exited;
      await blocker.query('ROLLBACK');
    } finally {
      blocker.release();
    }
    const job = (
      await suite.pool.query<{ id: string; status: string }>(
        `SELECT id, status FROM import_jobs WHERE domain_id = $1 AND group_id = 'killed'`,
        [DOMAIN],
      )
    ).rows;
    assert.equal(job.length, 1);
    assert.equal(job[0]?.status, 'PROCESSING');

    const resumed = await cli(['jobs', 'resume', job[0]?.id ?? '', '--json'], env);

    assert.equal(resumed.code, 0, resumed.stderr);
    const message = JSON.parse(resumed.stdout) as { status: string; processed: number; total: number };
    assert.deepEqual([message.status, message.processed, message.total], ['COMPLETED', ROWS, ROWS]);
    assert.equal(clean.status, 'COMPLETED');
    assert.deepEqual(await stateOf('killed'), await stateOf('clean'));
    // Every row counted once as inserted, over the batches of both processes.
    const counted = await suite.pool.query<{ inserted: string; updated: string }>(
      'SELECT sum(inserted) AS inserted, sum(updated) AS updated FROM import_job_batches WHERE job_id = $1',
      [job[0]?.id],
    );
    assert.deepEqual(counted.rows[0], { inserted: String(ROWS), updated: '0' });
    const again = await cli(['jobs', 'resume', job[0]?.id ?? '', '--json'], env);
    assert.equal(again.code, 2, 'a job that ended cannot be resumed');
  });
});
