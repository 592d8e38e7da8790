import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { blockedBy, groupState, importNodes, recordedCounts } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const DOMAIN = '3e8f1a2b-9c4d-4e5f-8a6b-7c8d9e0f1a2b';
const ROWS = 5000;

describe('a batch Lambda running out of time', () => {
  // Every handler gets a 17 s Lambda timeout: its deadline (15 s before it) stops a batch after 2 s.
  const suite = localPipeline('batch_timeout', {
    SPLIT_BYTES: String(32 * 1024),
    DB_BATCH_ROWS: '400',
    LOCAL_LAMBDA_TIMEOUT_SECONDS: '17',
  });
  let file: string;

  before(async () => {
    const lines = ['reference_id,name,score'];
    for (let row = 0; row < ROWS; row++)
      lines.push(`ref-${String(row).padStart(5, '0')},name ${row},${row % 97}`);
    file = join(suite.dir, 'nodes.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
  });

  /** Resolves once no backend waits for a lock held by `holderPid` any more. */
  async function untilUnblocked(holderPid: number): Promise<void> {
    for (;;) {
      const { rows } = await suite.pool.query(
        'SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))',
        [holderPid],
      );
      if (rows.length === 0) return;
      await setImmediate();
    }
  }

  // Without a deadline the held batch would wait for ever: the time limit turns that into a failure.
  it('stops at its deadline, is retried by the state machine, and leaves the rows of a clean run', {
    timeout: 120_000,
  }, async () => {
    const clean = await importNodes(DOMAIN, 'clean', file);
    let jobId = '';
    // An uncommitted insert of one of the file's nodes holds one batch's upsert until its deadline: nothing
    // else ends that wait (no lock or statement timeout), so its end is the deadline cancelling the batch.
    const blocker = await suite.pool.connect();
    try {
      await blocker.query('BEGIN');
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const holder = rows[0]!.pid;
      await blocker.query(
        `INSERT INTO nodes (id, reference_id, group_id, domain_id) VALUES (gen_random_uuid(), 'ref-02500', 'timed-out', $1)`,
        [DOMAIN],
      );
      const running = importNodes(DOMAIN, 'timed-out', file);
      await blockedBy(suite.pool, holder);
      await untilUnblocked(holder);
      await blocker.query('ROLLBACK');
      const message = await running;
      jobId = message.jobId;

      assert.equal(clean.status, 'COMPLETED');
      assert.deepEqual(
        [message.status, message.processed, message.total, message.failedList],
        ['COMPLETED', ROWS, ROWS, []],
      );
    } finally {
      blocker.release();
    }
    const state = await groupState(suite.pool, DOMAIN, 'timed-out');
    assert.equal(state.length, ROWS);
    assert.deepEqual(state, await groupState(suite.pool, DOMAIN, 'clean'));
    // The DB batches committed before the deadline count as inserted once, not again as updated.
    assert.deepEqual(await recordedCounts(suite.pool, jobId), { inserted: ROWS, updated: 0, duplicates: 0 });
  });
});
