import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadBatch } from '../../lib/jobs/load-batch.ts';
import { planImport } from '../../lib/jobs/plan-import.ts';
import type { JobStatusMessage } from '../../lib/model/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { blockedBy, groupState, importNodes, recordedCounts } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const DOMAIN = '5a2b9c8d-7e6f-4a3b-8c2d-1e0f9a8b7c6d';
const ROWS = 5000;

describe('database faults during a node import', () => {
  const suite = localPipeline('database_faults', { SPLIT_BYTES: String(32 * 1024), DB_BATCH_ROWS: '400' });
  let file: string;

  before(async () => {
    const lines = ['reference_id,name,score'];
    for (let row = 0; row < ROWS; row++)
      lines.push(`ref-${String(row).padStart(5, '0')},"name ""${row}""",${row % 97}`);
    file = join(suite.dir, 'nodes.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
  });

  const run = (groupId: string) => importNodes(DOMAIN, groupId, file);

  const stateOf = (groupId: string) => groupState(suite.pool, DOMAIN, groupId);

  it('a connection terminated mid-upsert: the batch is retried and the result equals a clean run', async () => {
    const clean = await run('clean');
    // Another transaction's uncommitted insert of one of the file's nodes: the import's upsert of that key
    // waits for it, and is then killed by pg_terminate_backend while it is inside its transaction.
    const blocker = await suite.pool.connect();
    let message: JobStatusMessage;
    try {
      await blocker.query('BEGIN');
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await blocker.query(
        `INSERT INTO nodes (id, reference_id, group_id, domain_id) VALUES (gen_random_uuid(), 'ref-02500', 'faulted', $1)`,
        [DOMAIN],
      );
      const running = run('faulted');
      const victim = await blockedBy(suite.pool, rows[0]!.pid);
      const killed = await suite.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
        victim,
      ]);
      assert.equal(killed.rows[0]?.ok, true);
      await blocker.query('ROLLBACK');
      message = await running;
    } finally {
      blocker.release();
    }

    assert.equal(clean.status, 'COMPLETED');
    assert.deepEqual(
      [message.status, message.processed, message.total, message.failedList],
      ['COMPLETED', ROWS, ROWS, []],
    );
    assert.deepEqual(await stateOf('faulted'), await stateOf('clean'));
    assert.equal((await stateOf('clean')).length, ROWS);
    // The DB batches the killed batch had committed count as inserted once, not again as updated.
    assert.deepEqual(await recordedCounts(suite.pool, message.jobId), {
      inserted: ROWS,
      updated: 0,
      duplicates: 0,
    });
  });

  it('a batch run again after it completed (a retried Lambda) returns its recorded counts and writes nothing', async () => {
    const deps = await runtimeDeps();
    const job = { jobId: randomUUID(), kind: 'nodes' as const, domainId: DOMAIN, groupId: 'rerun' };
    const plan = await planImport(deps, { ...job, source: { uri: file }, origin: 'test' });
    const input = { ...job, header: plan.header, referenceColumn: plan.referenceColumn, dbBatchRows: 400 };
    const batch = plan.batches[1]!;
    const first = await loadBatch(deps, { ...input, batch }, new AbortController().signal);
    const written = await stateOf('rerun');
    const lastWrite = async () =>
      (
        await suite.pool.query<{ at: Date }>(
          'SELECT max(updated_at) AS at FROM nodes WHERE domain_id = $1 AND group_id = $2',
          [DOMAIN, 'rerun'],
        )
      ).rows[0]?.at;
    const before = await lastWrite();

    const again = await loadBatch(deps, { ...input, batch }, new AbortController().signal);

    assert.equal(first.inserted, batch.records);
    assert.deepEqual(again, first);
    assert.deepEqual(await stateOf('rerun'), written);
    assert.deepEqual(await lastWrite(), before);
  });
});
