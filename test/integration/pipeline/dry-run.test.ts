import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { groupState, recordedCounts } from '../../support/faults.ts';
import { importFile, localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '6a0e4c2d-8b1f-4e3a-9c5d-7f2b1e0a3c4d';
const ROWS = 2400;

/**
 * A file with every kind of row: new and (on a second run) existing references, duplicates a few lines
 * apart (last wins), a row with no reference (rejected by the upsert statement) and rows with a wrong field
 * count (rejected by the parser).
 */
function mixedCsv(version: string): string {
  const lines = ['reference_id,city,age'];
  for (let row = 0; row < ROWS; row++) {
    if (row % 500 === 7) lines.push(`,nowhere,${row}`);
    else if (row % 500 === 11) lines.push(`bad-${row},too,many,fields`);
    else if (row % 300 === 5) lines.push(`d-${String(row - 1).padStart(5, '0')},${version}-again,${row}`);
    else lines.push(`d-${String(row).padStart(5, '0')},${version},${row % 90}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('a dry run: the whole job, the same checks and counts, no write to the target tables', () => {
  const suite = localPipeline('dry_run', {
    // Several batches and DB batches per file.
    SPLIT_BYTES: String(8 * 1024),
    DB_BATCH_ROWS: '400',
  });

  const run = (
    file: string,
    groupId: string,
    dryRun: boolean,
    kind: 'nodes' | 'matches' = 'nodes',
  ): Promise<JobStatusMessage> => importFile(DOMAIN, groupId, file, { kind, dryRun });

  const failedLines = async (jobId: string) =>
    (
      await suite.pool.query<{ line: string; code: string }>(
        'SELECT line, code FROM import_job_errors WHERE job_id = $1 ORDER BY line',
        [jobId],
      )
    ).rows.map((r) => [Number(r.line), r.code]);

  /** What a dry run and a real run report alike (times and ids aside). */
  const reported = (message: JobStatusMessage) => ({
    status: message.status,
    total: message.total,
    processed: message.processed,
    successList: message.successList,
    failedList: message.failedList,
    failureReason: message.failureReason,
  });

  it('reports what the real run then does, on a new group and on one that holds the data', async () => {
    const first = join(suite.dir, 'first.csv');
    const second = join(suite.dir, 'second.csv');
    await writeFile(first, mixedCsv('v1'));
    await writeFile(second, mixedCsv('v2'));

    for (const file of [first, second]) {
      const before = await groupState(suite.pool, DOMAIN, 'g');
      const dry = await run(file, 'g', true);
      assert.deepEqual(await groupState(suite.pool, DOMAIN, 'g'), before, 'the dry run wrote nothing');

      const real = await run(file, 'g', false);

      assert.equal(dry.dryRun, true);
      assert.equal(real.dryRun, undefined);
      assert.deepEqual(reported(dry), reported(real));
      assert.deepEqual(await failedLines(dry.jobId), await failedLines(real.jobId));
      const counts = await recordedCounts(suite.pool, real.jobId);
      assert.deepEqual(dry.counts, {
        new: counts.inserted,
        updated: counts.updated,
        duplicates: counts.duplicates,
        failed: real.total - real.processed - counts.duplicates,
        stale: 0,
      });
    }
    const state = await groupState(suite.pool, DOMAIN, 'g');
    assert.ok(state.length > 0);
  });

  it('reports the failed rows of a file with them, with their lines, and the job FAILED as a real run would', async () => {
    const file = join(suite.dir, 'only-dry.csv');
    await writeFile(file, mixedCsv('x'));

    const dry = await run(file, 'never-written', true);

    assert.equal(dry.status, 'FAILED');
    assert.ok((dry.counts?.failed ?? 0) > 0);
    assert.ok((dry.counts?.new ?? 0) > 0);
    assert.ok((dry.counts?.duplicates ?? 0) > 0);
    assert.equal((await failedLines(dry.jobId)).length, dry.counts?.failed);
    assert.deepEqual(await groupState(suite.pool, DOMAIN, 'never-written'), []);
  });

  it('a match import: the same counts, and no match suggestion written by the dry run', async () => {
    const file = join(suite.dir, 'matches.parquet');
    writeMatchParquet(file, 3000, { codec: 'SNAPPY', rowGroupRows: 1000 });
    const suggestions = async () =>
      (
        await suite.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM match_suggestions WHERE group_id = 'm'",
        )
      ).rows[0]?.n;

    const dry = await run(file, 'm', true, 'matches');
    assert.equal(await suggestions(), 0);
    const real = await run(file, 'm', false, 'matches');

    assert.deepEqual(reported(dry), reported(real));
    assert.equal(await suggestions(), real.processed);
    const counts = await recordedCounts(suite.pool, real.jobId);
    assert.deepEqual([dry.counts?.new, dry.counts?.updated], [counts.inserted, counts.updated]);
  });
});
