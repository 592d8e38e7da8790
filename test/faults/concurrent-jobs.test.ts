import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JobStatusMessage } from '../../lib/model/types.ts';
import { importNodes } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const DOMAIN = '3d1f7a52-6b0e-4c8d-9a1b-2e3f4a5b6c7d';
const JOBS = 10;
const ROWS = 6000;
/** Ids of shared-group file `i`: a window of the id space that overlaps its neighbours' by two thirds. */
const sharedId = (file: number, row: number) =>
  `shared-${String((file * 2000 + row) % 14_000).padStart(5, '0')}`;

describe('ten concurrent node imports on overlapping and disjoint groups (the seeds’ load target)', () => {
  // Several batches per job and several DB transactions per batch, all interleaving.
  const suite = localPipeline('concurrent_jobs', { SPLIT_BYTES: String(64 * 1024), DB_BATCH_ROWS: '500' });

  async function writeFileOf(index: number): Promise<string> {
    const shared = index < JOBS / 2;
    const lines = ['reference_id,source,row'];
    for (let row = 0; row < ROWS; row++) {
      lines.push(`${shared ? sharedId(index, row) : `own-${row}`},file-${index},${row}`);
    }
    const path = join(suite.dir, `nodes-${index}.csv`);
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  }

  it('completes every job with every row, no duplicate and no lost row, without deadlocks', async () => {
    const files = await Promise.all(Array.from({ length: JOBS }, (_, i) => writeFileOf(i)));
    const groupOf = (i: number) => (i < JOBS / 2 ? 'shared' : `own-${i}`);

    // Each job's as-of is its file's last-modified time: on a shared id, the newest file wins.
    const asOf = await Promise.all(files.map(async (file) => (await stat(file)).mtime.getTime()));

    const messages: JobStatusMessage[] = await Promise.all(
      files.map((uri, i) => importNodes(DOMAIN, groupOf(i), uri)),
    );

    // A row is written, or stale where a newer file holds its id: never lost, never failed.
    assert.deepEqual(
      messages.map((m) => [m.status, m.processed + (m.stale ?? 0), m.total]),
      files.map(() => ['COMPLETED', ROWS, ROWS]),
    );
    assert.deepEqual(
      messages.slice(JOBS / 2).map((m) => m.stale),
      files.slice(JOBS / 2).map(() => 0),
    );
    for (let i = JOBS / 2; i < JOBS; i++) {
      const { rows } = await suite.pool.query<{ n: string; wrong: string }>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE m.metadata->>'source' <> $3) AS wrong
         FROM nodes n JOIN node_metadata m ON m.node_id = n.id WHERE n.domain_id = $1 AND n.group_id = $2`,
        [DOMAIN, groupOf(i), `file-${i}`],
      );
      assert.deepEqual(rows[0], { n: String(ROWS), wrong: '0' }, groupOf(i));
    }
    // The shared group holds the union of the files' ids, each once, each with the values of the newest file
    // that has it (of one of them, when several share that time).
    const newest = new Map<string, number>();
    for (let i = 0; i < JOBS / 2; i++) {
      for (let row = 0; row < ROWS; row++) {
        const id = sharedId(i, row);
        newest.set(id, Math.max(newest.get(id) ?? 0, asOf[i]!));
      }
    }
    const expected = new Map<string, Set<string>>();
    for (let i = 0; i < JOBS / 2; i++) {
      for (let row = 0; row < ROWS; row++) {
        const id = sharedId(i, row);
        if (asOf[i] === newest.get(id)) expected.set(id, (expected.get(id) ?? new Set()).add(`file-${i}`));
      }
    }
    const { rows } = await suite.pool.query<{ reference_id: string; source: string | null }>(
      `SELECT n.reference_id, m.metadata->>'source' AS source
       FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id WHERE n.domain_id = $1 AND n.group_id = 'shared'`,
      [DOMAIN],
    );
    assert.equal(rows.length, expected.size);
    const misplaced = rows.filter((r) => !r.source || !expected.get(r.reference_id)?.has(r.source));
    assert.deepEqual(misplaced, []);
  });
});
