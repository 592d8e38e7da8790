import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { loadConfig } from '../../../lib/config.ts';
import type { RuntimeDeps } from '../../../lib/jobs/deps.ts';
import { createOrClaimJob } from '../../../lib/jobs/job-repository.ts';
import { loadMatchBatch } from '../../../lib/jobs/load-match-batch.ts';
import { loadMatches } from '../../../lib/matches/load-matches.ts';
import {
  type MatchRow,
  type MatchRowRejection,
  type MatchRowRun,
  matchRowRun,
} from '../../../lib/matches/match-rows.ts';
import type { JobRef } from '../../../lib/model/types.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';
import { blockedBy } from '../../support/faults.ts';
import { footerRange, inside, localStore, recordingStore, tempFolder } from '../../unit/parquet/fixtures.ts';

const DOMAIN = randomUUID();

function match(
  row: number,
  participantId: string,
  matchedParticipantId: string,
  score = row / 100,
): MatchRow {
  return {
    row,
    participantId,
    matchedParticipantId,
    compatibilityScore: score,
    rank: row % 3 === 0 ? null : row,
    details: { row, note: `n"${row}",\n` },
  };
}

function rejection(row: number): MatchRowRejection {
  return { row, line: row + 1, reference: null, code: 'SELF_MATCH', reason: 'self' };
}

/** One run per row, so that DB batches are cut by rows as from a file. */
async function* source(items: Iterable<MatchRow | MatchRowRejection>): AsyncGenerator<MatchRowRun> {
  for (const item of items) yield matchRowRun([item]);
}

describe('loadMatches', () => {
  let db: TestDatabase;

  before(async () => {
    db = await testDatabase('load_matches');
  });
  after(async () => {
    await db.close();
  });

  async function newJob(groupId = `g-${randomUUID()}`): Promise<JobRef> {
    const job: JobRef = { jobId: randomUUID(), kind: 'matches', domainId: DOMAIN, groupId };
    await createOrClaimJob(db.pool, { ...job, source: 's3://bucket/m.parquet', origin: 'test' });
    return job;
  }
  const rowsOf = async (job: JobRef) =>
    (
      await db.pool.query(
        `SELECT participant_id, matched_participant_id, compatibility_score, rank, details, last_row::int
         FROM match_suggestions WHERE domain_id = $1 AND group_id = $2 ORDER BY 1, 2`,
        [job.domainId, job.groupId],
      )
    ).rows;

  it('upserts rows over several DB batches, records rejections by row, and counts each', async () => {
    const job = await newJob();
    const items = [
      match(0, 'a', 'b'),
      rejection(1),
      match(2, 'a', 'c'),
      match(3, 'b', 'a'),
      match(4, 'c', 'a'),
    ];

    const counts = await loadMatches(db.pool, job, source(items), { dbBatchRows: 2 });

    assert.deepEqual(counts, { rows: 4, inserted: 4, updated: 0, duplicates: 0, failed: 1, stale: 0 });
    const rows = await rowsOf(job);
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[0], {
      participant_id: 'a',
      matched_participant_id: 'b',
      compatibility_score: 0,
      rank: null,
      details: { row: 0, note: 'n"0",\n' },
      last_row: 0,
    });
    const errors = await db.pool.query('SELECT line::int, code FROM import_job_errors WHERE job_id = $1', [
      job.jobId,
    ]);
    assert.deepEqual(errors.rows, [{ line: 2, code: 'SELF_MATCH' }]);
  });

  it('keeps the last row of a repeated key, whichever DB batch commits first', async () => {
    const job = await newJob();
    // The later row (5) is loaded before the earlier one (1): the earlier must not overwrite it.
    await loadMatches(db.pool, job, source([match(5, 'x', 'y', 0.5)]), { dbBatchRows: 10 });

    const counts = await loadMatches(
      db.pool,
      job,
      source([match(1, 'x', 'y', 0.1), match(2, 'x', 'y', 0.2)]),
      {
        dbBatchRows: 10,
      },
    );

    assert.deepEqual(counts, { rows: 2, inserted: 0, updated: 0, duplicates: 2, failed: 0, stale: 0 });
    const rows = await rowsOf(job);
    assert.deepEqual(
      rows.map((r) => [r.compatibility_score, r.last_row]),
      [[0.5, 5]],
    );
  });

  it("never counts a job's rows stale to each other, whatever as-of each load read", async () => {
    const job = await newJob();
    // The earlier row loaded with a newer as-of than the later one (a job row without an as-of gives each
    // load its own time): the later row must still win, as a duplicate of its job, never as stale.
    const newer = new Date('2026-12-02T00:00:00Z');
    const older = new Date('2026-12-01T00:00:00Z');
    await loadMatches(db.pool, job, source([match(1, 'x', 'y', 0.1)]), { dbBatchRows: 10, asOf: newer });

    const counts = await loadMatches(db.pool, job, source([match(5, 'x', 'y', 0.5)]), {
      dbBatchRows: 10,
      asOf: older,
    });

    assert.deepEqual(counts, { rows: 1, inserted: 0, updated: 0, duplicates: 1, failed: 0, stale: 0 });
    assert.deepEqual(
      (await rowsOf(job)).map((r) => [r.compatibility_score, r.last_row]),
      [[0.5, 5]],
    );
  });

  it('counts a batch stopped midway and run again as one run: committed DB batches are not counted again', async () => {
    const job = await newJob();
    const batch = { index: 0, key: 's3://bucket/m.parquet#rows=0-6' };
    const items = [0, 1, 2, 3, 4, 5].map((row) => match(row, `p${row}`, 'q'));
    async function* failingAfterFourRows(): AsyncGenerator<MatchRowRun> {
      yield* source(items.slice(0, 4));
      throw new Error('source failed');
    }
    await assert.rejects(
      loadMatches(db.pool, job, failingAfterFourRows(), { dbBatchRows: 2, batch }),
      /source failed/,
    );
    assert.equal((await rowsOf(job)).length, 4);

    const counts = await loadMatches(db.pool, job, source(items), { dbBatchRows: 2, batch });

    assert.deepEqual(counts, { rows: 6, inserted: 6, updated: 0, duplicates: 0, failed: 0, stale: 0 });
    assert.equal((await rowsOf(job)).length, 6);
  });

  it('ends a DB batch at its byte limit before its row count', async () => {
    const job = await newJob();
    const batch = { index: 0, key: 's3://bucket/m.parquet#rows=0-5' };
    const items = [0, 1, 2, 3, 4].map((row) => match(row, `p${row}`, 'q'));

    const counts = await loadMatches(db.pool, job, source(items), {
      dbBatchRows: 100,
      dbBatchBytes: 1,
      batch,
    });

    assert.equal(counts.inserted, 5);
    const recorded = await db.pool.query<{ row_offset: string }>(
      'SELECT row_offset FROM import_job_db_batches WHERE job_id = $1 ORDER BY row_offset',
      [job.jobId],
    );
    assert.deepEqual(
      recorded.rows.map((r) => Number(r.row_offset)),
      [0, 1, 2, 3, 4],
    );
  });

  it('lets a later job overwrite a key and counts it as updated', async () => {
    const groupId = `g-${randomUUID()}`;
    const first = await newJob(groupId);
    await loadMatches(db.pool, first, source([match(7, 'p', 'q', 0.7)]), { dbBatchRows: 10 });
    const second = await newJob(groupId);

    const counts = await loadMatches(db.pool, second, source([match(0, 'p', 'q', 0.9)]), { dbBatchRows: 10 });

    assert.deepEqual(counts, { rows: 1, inserted: 0, updated: 1, duplicates: 0, failed: 0, stale: 0 });
    assert.deepEqual(
      (await rowsOf(second)).map((r) => r.compatibility_score),
      [0.9],
    );
  });

  it('falls back to the upsert when a concurrent job commits one of its new keys first', async () => {
    const groupId = `g-${randomUUID()}`;
    const other = await newJob(groupId);
    const job = await newJob(groupId);
    // Another job's uncommitted insert of (k, b): the batch's snapshot does not see it, so the batch's plain
    // INSERT of that key waits for it, then fails with a unique violation once it commits.
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `INSERT INTO match_suggestions (domain_id, group_id, participant_id, matched_participant_id,
           compatibility_score, last_job_id, last_row) VALUES ($1, $2, 'k', 'b', 0.01, $3, 0)`,
        [DOMAIN, groupId, other.jobId],
      );
      const loading = loadMatches(db.pool, job, source([match(0, 'k', 'a'), match(1, 'k', 'b', 0.5)]), {
        dbBatchRows: 10,
      });
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await blockedBy(db.pool, rows[0]?.pid);
      await blocker.query('COMMIT');

      const counts = await loading;

      assert.deepEqual(counts, { rows: 2, inserted: 1, updated: 1, duplicates: 0, failed: 0, stale: 0 });
      assert.deepEqual(
        (await rowsOf(job)).map((r) => [r.participant_id, r.matched_participant_id, r.compatibility_score]),
        [
          ['k', 'a', 0],
          ['k', 'b', 0.5],
        ],
      );
    } finally {
      blocker.release();
    }
  });

  it('falls back to the upsert when two jobs insert the same new keys in opposite orders (deadlock)', async () => {
    const groupId = `g-${randomUUID()}`;
    const first = await newJob(groupId);
    const second = await newJob(groupId);
    // Each load inserts its first key, then waits on a blocker's key; once both blockers roll back, each
    // goes on to the key the other holds: a deadlock, which PostgreSQL ends by failing one of the two.
    const blockers = [await db.pool.connect(), await db.pool.connect()];
    try {
      const pids: number[] = [];
      for (const [i, blocker] of blockers.entries()) {
        await blocker.query('BEGIN');
        await blocker.query(
          `INSERT INTO match_suggestions (domain_id, group_id, participant_id, matched_participant_id,
             compatibility_score) VALUES ($1, $2, $3, 'm', 0)`,
          [DOMAIN, groupId, `held-${i}`],
        );
        const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        pids.push(rows[0]?.pid ?? 0);
      }
      // One engine run time for both: neither job's rows are older than the other's, so none is stale.
      const asOf = new Date();
      const loadFirst = loadMatches(
        db.pool,
        first,
        source([match(0, 'k1', 'm'), match(1, 'held-0', 'm'), match(2, 'k2', 'm')]),
        { dbBatchRows: 10, asOf },
      );
      await blockedBy(db.pool, pids[0]);
      const loadSecond = loadMatches(
        db.pool,
        second,
        source([match(0, 'k2', 'm'), match(1, 'held-1', 'm'), match(2, 'k1', 'm')]),
        { dbBatchRows: 10, asOf },
      );
      await blockedBy(db.pool, pids[1]);
      for (const blocker of blockers) await blocker.query('ROLLBACK');

      const counts = await Promise.all([loadFirst, loadSecond]);

      const written = counts.map((c) => [c.inserted, c.updated]).sort();
      assert.deepEqual(written, [
        [1, 2],
        [3, 0],
      ]);
      assert.deepEqual(
        (await rowsOf(first)).map((r) => r.participant_id),
        ['held-0', 'held-1', 'k1', 'k2'],
      );
    } finally {
      for (const blocker of blockers) blocker.release();
    }
  });

  it('stores ids and details holding tabs, backslashes, newlines and \\N exactly', async () => {
    const job = await newJob();
    const odd = ['a\tb', 'c\\d', 'e\nf\r', '\\N', 'é"ü\\t'];
    const items = odd.map((id, i) => ({ ...match(i, id, `${id}-m`), details: { text: id, list: [id] } }));

    await loadMatches(db.pool, job, source(items), { dbBatchRows: 10 });

    const rows = await rowsOf(job);
    assert.deepEqual(
      rows.map((r) => [r.participant_id, r.matched_participant_id, r.details]),
      [...odd].sort().map((id) => [id, `${id}-m`, { text: id, list: [id] }]),
    );
  });

  it('rejects a row holding a NUL character and loads the others', async () => {
    const job = await newJob();
    const nul = { ...match(1, 'n', 'm'), details: { bad: 'a\0b' } };

    const counts = await loadMatches(db.pool, job, source([match(0, 'o', 'k'), nul]), { dbBatchRows: 10 });

    assert.equal(counts.failed, 1);
    assert.equal((await rowsOf(job)).length, 1);
  });

  it('stops with DeadlineExceededError when aborted, leaving nothing of the open DB batch', async () => {
    const job = await newJob();
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<MatchRowRun> {
      yield matchRowRun([match(0, 's', 't')]);
      controller.abort(new Error('deadline'));
      yield matchRowRun([match(1, 's', 'u')]);
    }

    await assert.rejects(loadMatches(db.pool, job, slow(), { dbBatchRows: 10, signal: controller.signal }), {
      name: 'DeadlineExceededError',
    });
    assert.equal((await rowsOf(job)).length, 0);
  });
});

describe('loadMatchBatch', () => {
  let db: TestDatabase;
  let folder: Awaited<ReturnType<typeof tempFolder>>;

  before(async () => {
    db = await testDatabase('load_match_batch');
    folder = await tempFolder();
  });
  after(async () => {
    await db.close();
    await folder.remove();
  });

  it('reads only the footer and its own row groups’ byte ranges', async () => {
    const file = folder.path('ranges.parquet');
    writeMatchParquet(file, 8_000, { codec: 'ZSTD', rowGroupRows: 2_000 });
    const plan = await planMatchFile(localStore(), file, { maxRowsPerBatch: 4_000, maxBatches: 10 });
    assert.equal(plan.batches.length, 2);
    const batch = plan.batches[1];
    assert.ok(batch);
    const { store, reads } = recordingStore();
    const bytes = new Uint8Array(await readFile(file));
    const footer = footerRange(bytes);
    const job: JobRef = { jobId: randomUUID(), kind: 'matches', domainId: DOMAIN, groupId: 'ranges' };
    await createOrClaimJob(db.pool, { ...job, source: file, origin: 'test' });
    const deps = { pool: db.pool, store, config: loadConfig({}) } as unknown as RuntimeDeps;

    const result = await loadMatchBatch(
      deps,
      { ...job, uri: file, columns: plan.columns, dbBatchRows: 1_000, batch },
      new AbortController().signal,
    );

    assert.equal(result.inserted, 4_000);
    for (const read of reads) {
      assert.ok(inside(read, [footer, ...batch.byteRanges]), `read ${read.start}-${read.end} is needed`);
    }
    const rowGroupBytes = reads.filter((read) => inside(read, batch.byteRanges));
    const covered = rowGroupBytes.reduce((sum, read) => sum + read.end - read.start, 0);
    const needed = batch.byteRanges.reduce((sum, range) => sum + range.end - range.start, 0);
    assert.equal(covered, needed, 'each byte of the batch’s row groups is read once');
    assert.ok(
      reads.every((read) => !inside(read, plan.batches[0]?.byteRanges ?? [])),
      'nothing of the other batch',
    );
  });

  it('runs a completed batch once: a second run returns the recorded result and reads nothing', async () => {
    const file = folder.path('once.parquet');
    writeMatchParquet(file, 3_000, { codec: 'SNAPPY', rowGroupRows: 1_000 });
    const plan = await planMatchFile(localStore(), file, { maxRowsPerBatch: 3_000, maxBatches: 1 });
    const batch = plan.batches[0]!;
    const job: JobRef = { jobId: randomUUID(), kind: 'matches', domainId: DOMAIN, groupId: 'once' };
    await createOrClaimJob(db.pool, { ...job, source: file, origin: 'test' });
    const input = { ...job, uri: file, columns: plan.columns, dbBatchRows: 1_000, batch };
    const first = await loadMatchBatch(
      { pool: db.pool, store: localStore(), config: loadConfig({}) } as unknown as RuntimeDeps,
      input,
      new AbortController().signal,
    );
    const { store, reads } = recordingStore();

    const again = await loadMatchBatch(
      { pool: db.pool, store, config: loadConfig({}) } as unknown as RuntimeDeps,
      input,
      new AbortController().signal,
    );

    assert.deepEqual(first, {
      index: 0,
      status: 'SUCCEEDED',
      rows: 3_000,
      inserted: 3_000,
      updated: 0,
      duplicates: 0,
      failed: 0,
      stale: 0,
    });
    assert.deepEqual(again, first);
    assert.deepEqual(reads, []);
    // The same batch index over other work (here another file) is no completed batch: it loads.
    const copy = folder.path('once-copy.parquet');
    await copyFile(file, copy);
    const other = await loadMatchBatch(
      { pool: db.pool, store, config: loadConfig({}) } as unknown as RuntimeDeps,
      { ...input, uri: copy },
      new AbortController().signal,
    );
    assert.ok(reads.length > 0);
    assert.equal(other.duplicates + other.updated, 3_000);
  });
});
