import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generatedMatch, type MatchCodec, writeMatchParquet } from '../../../bench/generate-matches.ts';
import { JobStatusMessageSchema } from '../../../lib/jobs/status-message.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../../../lib/model/types.ts';
import { localPipeline } from '../../support/local-pipeline.ts';
import { writeHyparquet } from '../../unit/parquet/fixtures.ts';

const DOMAIN = '5f0c2b8e-3d41-4a6f-9c2e-8b7d1a0e4f21';
const CODECS: readonly MatchCodec[] = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD'];
const ROWS = 10_000;
/** 4 row groups of 2500 rows; MATCH_BATCH_ROWS 5000 packs them 2 by 2 into 2 batches. */
const ROW_GROUP_ROWS = 2_500;

describe('match import through the synthesized match-import state machine, locally', () => {
  const suite = localPipeline('pipeline_matches', {
    MATCH_BATCH_ROWS: '5000',
    DB_BATCH_ROWS: '1500',
    STATUS_LIST_CAP: '50',
  });

  const run = (file: string, groupId: string, handlers: string[] = []): Promise<JobStatusMessage> => {
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'matches',
      domainId: DOMAIN,
      groupId,
      source: { uri: file },
      origin: 'test',
    };
    return runImportLocally(input, { observe: (handler) => handlers.push(handler) });
  };
  const count = async (sql: string, params: unknown[]): Promise<number> =>
    Number((await suite.pool.query<{ n: string }>(sql, params)).rows[0]?.n);
  const matchesIn = (groupId: string) =>
    count('SELECT count(*) AS n FROM match_suggestions WHERE domain_id = $1 AND group_id = $2', [
      DOMAIN,
      groupId,
    ]);
  /** A digest of every value of a group (not the timestamps): equal digests mean equal rows. */
  const digest = async (groupId: string): Promise<string> =>
    (
      await suite.pool.query<{ d: string }>(
        `SELECT md5(string_agg(concat_ws('|', participant_id, matched_participant_id, compatibility_score::text,
           rank::text, details::text), ',' ORDER BY participant_id, matched_participant_id)) AS d
         FROM match_suggestions WHERE domain_id = $1 AND group_id = $2`,
        [DOMAIN, groupId],
      )
    ).rows[0]?.d ?? '';
  const openJobs = () =>
    count("SELECT count(*) AS n FROM import_jobs WHERE status IN ('PENDING', 'PROCESSING')", []);

  for (const codec of CODECS) {
    it(`imports a ${codec} file of 4 row groups in 2 batches, every row with its values`, async () => {
      const file = join(suite.dir, `matches-${codec}.parquet`);
      writeMatchParquet(file, ROWS, { codec, rowGroupRows: ROW_GROUP_ROWS });
      const group = `codec-${codec}`;
      const handlers: string[] = [];

      const message = await run(file, group, handlers);

      assert.equal(message.status, 'COMPLETED', message.failureReason);
      assert.deepEqual(handlers, ['plan-matches', 'load-match-batch', 'load-match-batch', 'finalize']);
      assert.equal(message.kind, 'matches');
      assert.equal(message.total, ROWS);
      assert.equal(message.processed, ROWS);
      assert.deepEqual(message.successList, []);
      assert.deepEqual(message.failedList, []);
      assert.ok(JobStatusMessageSchema.safeParse(message).success);
      assert.equal(await matchesIn(group), ROWS);
      const expected = generatedMatch(7_777);
      const row = (
        await suite.pool.query(
          `SELECT compatibility_score, rank, details FROM match_suggestions
           WHERE domain_id = $1 AND group_id = $2 AND participant_id = $3 AND matched_participant_id = $4`,
          [DOMAIN, group, expected.participant_id, expected.matched_participant_id],
        )
      ).rows[0];
      assert.deepEqual(row, {
        compatibility_score: expected.compatibility_score,
        rank: expected.rank,
        details: { model: expected.model, reason_code: expected.reason_code },
      });
    });
  }

  it('publishes the status on the matches status topic and records it', async () => {
    const file = join(suite.dir, 'matches-status.parquet');
    writeMatchParquet(file, 100, { rowGroupRows: 40 });

    const message = await run(file, 'status');

    const events = await suite.pool.query('SELECT topic, payload FROM job_status_events WHERE job_id = $1', [
      message.jobId,
    ]);
    assert.deepEqual(
      events.rows.map((event) => event.topic),
      ['matches-import-status'],
    );
    assert.equal(events.rows[0]?.payload.kind, 'matches');
  });

  it('re-imports the same file idempotently: same count, same values', async () => {
    const file = join(suite.dir, 'matches-again.parquet');
    writeMatchParquet(file, ROWS, { codec: 'SNAPPY', rowGroupRows: ROW_GROUP_ROWS });
    const first = await run(file, 'again');
    const before = await digest('again');

    const second = await run(file, 'again');

    assert.equal(first.status, 'COMPLETED');
    assert.equal(second.status, 'COMPLETED');
    assert.equal(second.processed, ROWS);
    assert.equal(await matchesIn('again'), ROWS);
    assert.equal(await digest('again'), before);
  });

  it('fails a file with bad rows, names exactly those rows, and loads every other row', async () => {
    const file = join(suite.dir, 'matches-bad.parquet');
    const bad: Record<number, Partial<ReturnType<typeof generatedMatch>>> = {
      3: { participant_id: null },
      2600: { matched_participant_id: '   ' },
      4999: { compatibility_score: Number.NaN },
      5000: { compatibility_score: Number.POSITIVE_INFINITY },
      7501: { compatibility_score: null },
      9999: { matched_participant_id: generatedMatch(9_999).participant_id },
    };
    writeMatchParquet(file, ROWS, {
      codec: 'ZSTD',
      rowGroupRows: ROW_GROUP_ROWS,
      row: (i, row) => ({ ...row, ...bad[i] }),
    });

    const message = await run(file, 'bad');

    assert.equal(message.status, 'FAILED');
    assert.equal(message.total, ROWS);
    assert.equal(message.processed, ROWS - 6);
    assert.equal(await matchesIn('bad'), ROWS - 6);
    assert.deepEqual(message.failedList, [
      'row:3',
      'row:2600',
      'row:4999',
      'row:5000',
      'row:7501',
      'row:9999',
    ]);
    const report = (await readFile(message.failedListUri ?? '', 'utf8')).trim().split('\n');
    assert.equal(report[0], 'row,participant_id,code,reason');
    assert.deepEqual(
      report.slice(1).map((line) => line.split(',').slice(0, 3).join(',')),
      [
        '3,,MISSING_PARTICIPANT',
        `2600,${generatedMatch(2_600).participant_id},MISSING_PARTICIPANT`,
        `4999,${generatedMatch(4_999).participant_id},INVALID_SCORE`,
        `5000,${generatedMatch(5_000).participant_id},INVALID_SCORE`,
        `7501,${generatedMatch(7_501).participant_id},INVALID_SCORE`,
        `9999,${generatedMatch(9_999).participant_id},SELF_MATCH`,
      ],
    );
    const job = (
      await suite.pool.query('SELECT status, failed_count::int FROM import_jobs WHERE id = $1', [
        message.jobId,
      ])
    ).rows[0];
    assert.deepEqual(job, { status: 'FAILED', failed_count: 6 });
  });

  it('keeps the last row of a key repeated across batches and counts it once', async () => {
    const file = join(suite.dir, 'matches-duplicates.parquet');
    // Rows i and i + 5000 share a key: the second half (the second batch) must win.
    writeMatchParquet(file, ROWS, {
      rowGroupRows: ROW_GROUP_ROWS,
      row: (i, row) => ({
        ...generatedMatch(i % 5_000),
        compatibility_score: row.compatibility_score,
        reason_code: i,
      }),
    });

    const message = await run(file, 'dups');

    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.total, ROWS);
    assert.equal(message.processed, 5_000);
    assert.equal(await matchesIn('dups'), 5_000);
    const first = generatedMatch(0);
    const row = (
      await suite.pool.query(
        `SELECT compatibility_score, details->'reason_code' AS reason FROM match_suggestions
         WHERE domain_id = $1 AND group_id = 'dups' AND participant_id = $2 AND matched_participant_id = $3`,
        [DOMAIN, first.participant_id, first.matched_participant_id],
      )
    ).rows[0];
    assert.deepEqual(row, { compatibility_score: generatedMatch(5_000).compatibility_score, reason: 5_000 });
  });

  it('fails a file that is not Parquet, naming it, and leaves no job open', async () => {
    const file = join(suite.dir, 'not-parquet.parquet');
    await writeFile(file, 'participant_id,matched_participant_id,compatibility_score\na,b,0.5\n');

    const message = await run(file, 'corrupt');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /InvalidFileError: .*not a Parquet file/);
    assert.equal(await openJobs(), 0);
  });

  it('fails a file whose footer is cut off, naming it', async () => {
    const whole = join(suite.dir, 'whole.parquet');
    writeMatchParquet(whole, 1_000, { rowGroupRows: 500 });
    const bytes = await readFile(whole);
    const file = join(suite.dir, 'truncated.parquet');
    await writeFile(file, bytes.subarray(0, bytes.length - 100));

    const message = await run(file, 'truncated');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /truncated/i);
    assert.equal(await matchesIn('truncated'), 0);
    assert.equal(await openJobs(), 0);
  });

  it('fails a file without a required column, naming the column', async () => {
    const file = join(suite.dir, 'missing-column.parquet');
    await writeHyparquet(file, [
      { name: 'participant_id', data: ['a', 'b'], type: 'STRING' },
      { name: 'matched_participant_id', data: ['b', 'c'], type: 'STRING' },
    ]);

    const message = await run(file, 'missing-column');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /compatibility_score/);
    assert.equal(await openJobs(), 0);
  });

  it('fails a missing file with its reason', async () => {
    const message = await run(join(suite.dir, 'nope.parquet'), 'nope');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /not found/i);
    assert.equal(await openJobs(), 0);
  });
});
