import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { ImportKind, JobStatusMessage } from '../../../lib/model/types.ts';
import { importFile, localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '3b9d1f0e-7c2a-4d5b-8e6f-1a2b3c4d5e6f';
const T1 = '2026-11-30T10:00:00.000Z';
const T2 = '2026-12-01T10:00:00.000Z';
const REFS = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'];

const nodeCsv = (city: string) => `reference_id,city\n${REFS.map((ref) => `${ref},${city}`).join('\n')}\n`;

describe('as-of: an older file delivered after a newer one writes nothing and is counted stale', () => {
  const suite = localPipeline('as_of', { SPLIT_BYTES: String(32), DB_BATCH_ROWS: '2' });

  const run = (file: string, groupId: string, asOf?: string, kind: ImportKind = 'nodes') =>
    importFile(DOMAIN, groupId, file, { kind, asOf });

  const cities = async (groupId: string) =>
    (
      await suite.pool.query<{ reference_id: string; city: string; as_of: Date }>(
        `SELECT n.reference_id, m.metadata->>'city' AS city, n.as_of FROM nodes n
         JOIN node_metadata m ON m.node_id = n.id
         WHERE n.domain_id = $1 AND n.group_id = $2 ORDER BY n.reference_id`,
        [DOMAIN, groupId],
      )
    ).rows.map((r) => [r.reference_id, r.city, r.as_of.toISOString()]);

  const file = async (name: string, body: string, mtime?: string) => {
    const path = join(suite.dir, name);
    await writeFile(path, body);
    if (mtime) await utimes(path, new Date(mtime), new Date(mtime));
    return path;
  };

  const jobRow = async (jobId: string) =>
    (
      await suite.pool.query<{ stale_count: string; as_of: Date; status: string }>(
        'SELECT stale_count, as_of, status FROM import_jobs WHERE id = $1',
        [jobId],
      )
    ).rows[0];

  const assertWrote = (message: JobStatusMessage, written: number, stale: number) => {
    assert.equal(message.status, 'COMPLETED', message.failureReason);
    assert.equal(message.total, REFS.length);
    assert.equal(message.processed, written);
    assert.equal(message.stale, stale);
  };

  it('a file older than the data held: its rows are stale, the nodes keep the newer metadata', async () => {
    const newer = await file('newer.csv', nodeCsv('new'));
    const older = await file('older.csv', nodeCsv('old'));

    assertWrote(await run(newer, 'late', T2), REFS.length, 0);
    const late = await run(older, 'late', T1);

    assertWrote(late, 0, REFS.length);
    assert.deepEqual(late.successList, []);
    assert.deepEqual(
      await cities('late'),
      REFS.map((ref) => [ref, 'new', T2]),
    );
    const row = await jobRow(late.jobId);
    assert.equal(row?.status, 'COMPLETED');
    assert.equal(Number(row?.stale_count), REFS.length);
    assert.equal(row?.as_of.toISOString(), T1);
  });

  it('the reverse order overwrites, and so does an equal as-of (a file sent again is not stale)', async () => {
    const older = await file('older-first.csv', nodeCsv('old'));
    const newer = await file('newer-second.csv', nodeCsv('new'));
    const again = await file('newer-again.csv', nodeCsv('again'));

    assertWrote(await run(older, 'inorder', T1), REFS.length, 0);
    assertWrote(await run(newer, 'inorder', T2), REFS.length, 0);
    assert.deepEqual(
      await cities('inorder'),
      REFS.map((ref) => [ref, 'new', T2]),
    );

    assertWrote(await run(again, 'inorder', T2), REFS.length, 0);
    assert.deepEqual(
      await cities('inorder'),
      REFS.map((ref) => [ref, 'again', T2]),
    );
  });

  it("defaults to the file's last-modified time", async () => {
    const newer = await file('mtime-newer.csv', nodeCsv('new'), T2);
    const older = await file('mtime-older.csv', nodeCsv('old'), T1);

    const first = await run(newer, 'mtime');
    const second = await run(older, 'mtime');

    assert.equal((await jobRow(first.jobId))?.as_of.toISOString(), T2);
    assertWrote(second, 0, REFS.length);
    assert.deepEqual(
      await cities('mtime'),
      REFS.map((ref) => [ref, 'new', T2]),
    );
  });

  it('a stale row within a file of newer rows: only the newer nodes are written', async () => {
    const seed = await file('partial-seed.csv', 'reference_id,city\na-1,held\na-2,held\n');
    const mixed = await file('partial-mixed.csv', nodeCsv('mid'));

    assert.equal((await run(seed, 'partial', T2)).processed, 2);
    const message = await run(mixed, 'partial', T1);

    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.processed, REFS.length - 2);
    assert.equal(message.stale, 2);
    assert.deepEqual(
      (await cities('partial')).map(([ref, city]) => [ref, city]),
      [
        ['a-1', 'held'],
        ['a-2', 'held'],
        ['a-3', 'mid'],
        ['a-4', 'mid'],
        ['a-5', 'mid'],
      ],
    );
  });

  it('a removal older than the data a node holds leaves it; a newer one removes it', async () => {
    const held = await file('removal-held.csv', nodeCsv('held'));
    const list = await file('removal-list.csv', 'reference_id\na-1\n');
    assert.equal((await run(held, 'removal', T2)).processed, REFS.length);
    const remove = (asOf: string) =>
      runImportLocally({
        jobId: randomUUID(),
        kind: 'nodes',
        domainId: DOMAIN,
        groupId: 'removal',
        source: { uri: list, kind: 'removals' },
        removals: { uri: list, count: 1 },
        origin: 'test',
        asOf,
      });

    const old = await remove(T1);
    assert.equal(old.status, 'COMPLETED');
    assert.equal(old.removed, 0);
    assert.equal((await cities('removal')).length, REFS.length);

    const newer = await remove('2026-12-02T10:00:00.000Z');
    assert.equal(newer.removed, 1);
    assert.deepEqual(
      (await cities('removal')).map(([ref]) => ref),
      REFS.filter((ref) => ref !== 'a-1'),
    );
  });

  describe('match suggestions: the engine run time', () => {
    const ROWS = 300;
    const scores = async (groupId: string) =>
      (
        await suite.pool.query<{ score: number; n: number }>(
          `SELECT compatibility_score AS score, count(*)::int AS n FROM match_suggestions
           WHERE domain_id = $1 AND group_id = $2 GROUP BY 1 ORDER BY 1`,
          [DOMAIN, groupId],
        )
      ).rows.map((r) => [r.score, r.n]);
    const matchFile = (name: string, score: number) => {
      const path = join(suite.dir, name);
      writeMatchParquet(path, ROWS, {
        codec: 'SNAPPY',
        rowGroupRows: 100,
        row: (_, generated) => ({ ...generated, compatibility_score: score }),
      });
      return path;
    };

    it('an older match file after a newer one: stale, the newer scores stay; the reverse overwrites', async () => {
      const newer = matchFile('newer.parquet', 0.9);
      const older = matchFile('older.parquet', 0.1);

      const first = await run(newer, 'm-late', T2, 'matches');
      const late = await run(older, 'm-late', T1, 'matches');

      assert.equal(first.stale, 0);
      assert.equal(late.status, 'COMPLETED', late.failureReason);
      assert.equal(late.processed, 0);
      assert.equal(late.stale, ROWS);
      assert.deepEqual(await scores('m-late'), [[0.9, ROWS]]);

      // Without an asOf, the engine run time is the file's last-modified time.
      await utimes(older, new Date(T1), new Date(T1));
      const byMtime = await run(older, 'm-late', undefined, 'matches');
      assert.equal(byMtime.stale, ROWS);
      assert.deepEqual(await scores('m-late'), [[0.9, ROWS]]);

      await run(older, 'm-order', T1, 'matches');
      const overwrite = await run(newer, 'm-order', T2, 'matches');
      assert.equal(overwrite.processed, ROWS);
      assert.equal(overwrite.stale, 0);
      assert.deepEqual(await scores('m-order'), [[0.9, ROWS]]);
    });
  });
});
