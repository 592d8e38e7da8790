import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { readJobProgress } from '../../../lib/jobs/job-progress.ts';
import { loadBatch } from '../../../lib/jobs/load-batch.ts';
import { planImport } from '../../../lib/jobs/plan-import.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { loadNodes } from '../../../lib/nodes/load-nodes.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { blockedBy, importNodes } from '../../support/faults.ts';
import { localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '7d3e1f2a-9b8c-4d5e-8f6a-0b1c2d3e4f5a';
const ROWS = 5000;
/** Lines (1-based data rows) left without a reference: failed rows, spread over several batches. */
const BAD_ROWS = new Set([7, 1234, 4321]);

describe('a job’s progress counters', () => {
  const suite = localPipeline('progress', {
    SPLIT_BYTES: String(32 * 1024),
    DB_BATCH_ROWS: '400',
    MATCH_BATCH_ROWS: '1000',
  });
  let file: string;

  before(async () => {
    const lines = ['reference_id,name'];
    for (let row = 1; row <= ROWS; row++)
      lines.push(`${BAD_ROWS.has(row) ? '' : `ref-${String(row).padStart(5, '0')}`},name ${row}`);
    file = join(suite.dir, 'nodes.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
  });

  const progressOf = async (jobId: string) => {
    const read = await readJobProgress(suite.pool, jobId);
    assert.ok(read, `job ${jobId} exists`);
    return read;
  };

  it('advances with each committed DB batch, in the transaction that commits it', async () => {
    const deps = await runtimeDeps();
    const job = { jobId: randomUUID(), kind: 'nodes' as const, domainId: DOMAIN, groupId: 'per-db-batch' };
    await planImport(deps, { ...job, source: { uri: file }, origin: 'test' });
    const rows = async function* () {
      for (let line = 2; line < 2 + 1000; line++) yield { line, reference: `direct-${line}`, metadata: {} };
    };
    const seen: number[] = [];
    let committed = 0;

    await loadNodes(suite.pool, job, rows(), {
      dbBatchRows: 300,
      batch: { index: 99, key: 'direct' },
      onCommitted: async ({ references }) => {
        committed += references.length;
        seen.push((await progressOf(job.jobId)).counters.rowsDone);
      },
    });

    // Called after each commit and before the next: the counters show exactly the rows committed so far.
    assert.deepEqual(seen, [300, 600, 900, 1000]);
    assert.equal(committed, 1000);
  });

  it('counts batches done of planned as batches complete, and a batch run again counts nothing', async () => {
    const deps = await runtimeDeps();
    const job = { jobId: randomUUID(), kind: 'nodes' as const, domainId: DOMAIN, groupId: 'per-batch' };
    const plan = await planImport(deps, { ...job, source: { uri: file }, origin: 'test' });
    const input = { ...job, header: plan.header, referenceColumn: plan.referenceColumn, dbBatchRows: 400 };
    const [first, second] = plan.batches;
    assert.ok(first && second && plan.batches.length > 2);
    const planned = await progressOf(job.jobId);

    await loadBatch(deps, { ...input, batch: first }, new AbortController().signal);
    const afterFirst = await progressOf(job.jobId);
    await loadBatch(deps, { ...input, batch: first }, new AbortController().signal);
    const afterAgain = await progressOf(job.jobId);
    await loadBatch(deps, { ...input, batch: second }, new AbortController().signal);
    const afterSecond = await progressOf(job.jobId);

    assert.deepEqual(
      [planned.counters.batchesTotal, planned.counters.batchesDone, planned.counters.rowsDone],
      [plan.batches.length, 0, 0],
    );
    assert.equal(planned.counters.total, ROWS);
    assert.deepEqual([afterFirst.counters.batchesDone, afterFirst.counters.rowsDone], [1, first.records]);
    assert.equal(afterFirst.counters.status, 'PROCESSING');
    assert.ok(afterFirst.progress.percentage > 0 && afterFirst.progress.percentage < 100);
    assert.deepEqual(afterAgain.counters, afterFirst.counters);
    assert.equal(afterAgain.seq, afterFirst.seq);
    assert.deepEqual(
      [afterSecond.counters.batchesDone, afterSecond.counters.rowsDone],
      [2, first.records + second.records],
    );
    assert.ok(afterSecond.seq > afterFirst.seq);
  });

  it('is exact after a DB batch killed midway is retried: nothing committed before counts twice', async () => {
    // Another transaction's uncommitted insert of one of the file's nodes: the import's upsert of that key
    // waits for it and is killed inside its transaction, after DB batches of its batch have committed.
    const blocker = await suite.pool.connect();
    let message: JobStatusMessage;
    try {
      await blocker.query('BEGIN');
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await blocker.query(
        `INSERT INTO nodes (id, reference_id, group_id, domain_id) VALUES (gen_random_uuid(), 'ref-02500', 'faulted', $1)`,
        [DOMAIN],
      );
      const running = importNodes(DOMAIN, 'faulted', file);
      const victim = await blockedBy(suite.pool, rows[0]!.pid);
      await suite.pool.query('SELECT pg_terminate_backend($1)', [victim]);
      await blocker.query('ROLLBACK');
      message = await running;
    } finally {
      blocker.release();
    }
    const { counters, progress } = await progressOf(message.jobId);
    const retried = await suite.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM import_job_db_batches WHERE job_id = $1`,
      [message.jobId],
    );

    assert.equal(message.status, 'FAILED');
    assert.deepEqual(
      [counters.rowsDone, counters.rowsFailed, counters.batchesDone, counters.total],
      [ROWS, BAD_ROWS.size, counters.batchesTotal, ROWS],
    );
    assert.ok(Number(retried.rows[0]?.n) > 1);
    assert.deepEqual([progress.percentage, progress.etaSeconds], [100, 0]);
  });

  it('counts a match import the same way: every row once, batches done of planned', async () => {
    const file = join(suite.dir, 'matches.parquet');
    writeMatchParquet(file, 3000, { rowGroupRows: 500 });

    const message = await runImportLocally({
      jobId: randomUUID(),
      kind: 'matches',
      domainId: DOMAIN,
      groupId: 'matches',
      source: { uri: file },
      origin: 'test',
    });
    const { counters, progress } = await progressOf(message.jobId);

    assert.equal(message.status, 'COMPLETED');
    assert.deepEqual(
      [
        counters.rowsDone,
        counters.rowsWritten,
        counters.rowsFailed,
        counters.batchesDone,
        counters.batchesTotal,
      ],
      [3000, 3000, 0, 3, 3],
    );
    assert.equal(progress.percentage, 100);
  });
});
