import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
const ROWS = 20_000;

/** A file whose every `badEvery`-th row has no reference (a failed row), spread over the whole file. */
function csvWithBadRows(badEvery: number): { csv: string; good: number } {
  const lines = ['reference_id,city'];
  let good = 0;
  for (let row = 0; row < ROWS; row++) {
    if (row % badEvery === 0) lines.push(',nowhere');
    else {
      lines.push(`b-${String(row).padStart(6, '0')},x`);
      good++;
    }
  }
  return { csv: `${lines.join('\n')}\n`, good };
}

describe('a failure budget that stops a job early', () => {
  const suite = localPipeline('failure_budget', {
    SPLIT_BYTES: String(8 * 1024),
    DB_BATCH_ROWS: '200',
    TOLERATED_FAILURE_PERCENT: '1',
  });

  const run = async (badEvery: number, groupId: string, maxFailedRows?: number) => {
    const file = join(suite.dir, `${groupId}.csv`);
    const { csv, good } = csvWithBadRows(badEvery);
    await writeFile(file, csv);
    const message: JobStatusMessage = await runImportLocally({
      jobId: randomUUID(),
      kind: 'nodes',
      domainId: DOMAIN,
      groupId,
      source: { uri: file },
      origin: 'test',
      ...(maxFailedRows !== undefined ? { maxFailedRows } : {}),
    });
    const { rows } = await suite.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM nodes WHERE domain_id = $1 AND group_id = $2',
      [DOMAIN, groupId],
    );
    return { message, good, loaded: rows[0]!.n };
  };

  it('failed rows past the tolerated percentage cancel the remaining batches: FAILED with the rows so far', async () => {
    const { message, good, loaded } = await run(10, 'over-percent');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /failure budget/);
    assert.ok(loaded < good / 2, `${loaded} of ${good} good rows loaded before the job stopped`);
    assert.equal(message.processed, loaded);
  });

  it('failed rows past maxFailedRows stop the job, though within the percentage', async () => {
    const { message, good, loaded } = await run(400, 'over-count', 3);

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /failure budget/);
    assert.ok(loaded < good / 2, `${loaded} of ${good} good rows loaded before the job stopped`);
  });

  it('failed rows within the budget: every good row loads and the job completes', async () => {
    const { message, good, loaded } = await run(400, 'within');

    assert.deepEqual([message.status, message.processed, loaded], ['COMPLETED', good, good]);
  });
});
