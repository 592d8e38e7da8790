import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type GeneratedMatch,
  generatedMatch,
  type MatchCodec,
  writeMatchParquet,
} from '../../../bench/generate-matches.ts';
import { planMatches } from '../../../lib/jobs/plan-matches.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../../../lib/model/types.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { localPipeline } from '../../support/local-pipeline.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';

const DOMAIN = '5f0c2b8e-3d41-4a6f-9c2e-8b7d1a0e4f21';
const CODECS: readonly MatchCodec[] = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD'];
/** Rows per part: 3 row groups of 1000; MATCH_BATCH_ROWS 5000 makes each part one batch. */
const PART_ROWS = 3_000;
const ROW_GROUP_ROWS = 1_000;

/** Writes part `index` of a run: rows `index * PART_ROWS …` of the generated rows, in its own codec. */
function writePart(
  path: string,
  index: number,
  overrides: Record<number, Partial<GeneratedMatch>> = {},
): void {
  const first = index * PART_ROWS;
  writeMatchParquet(path, PART_ROWS, {
    codec: CODECS[index % CODECS.length]!,
    rowGroupRows: ROW_GROUP_ROWS,
    row: (i) => ({ ...generatedMatch(first + i), ...overrides[i] }),
  });
}

const partName = (index: number) => `part-0000${index}.${CODECS[index]!.toLowerCase()}.parquet`;

/** Files a writer leaves beside its parts, every one to be ignored. */
const NOT_PARTS = ['_SUCCESS', '_committed_8712', '.part-00000.parquet.crc', 'notes.txt'];

describe('match import of a sharded source (a folder, prefix or manifest of Parquet parts), locally', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3('mb-sharded');
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await s3?.close();
  });
  const suite = localPipeline('pipeline_sharded', () => ({
    MATCH_BATCH_ROWS: '5000',
    DB_BATCH_ROWS: '1500',
    STATUS_LIST_CAP: '50',
    S3_ENDPOINT: s3.endpoint,
  }));

  const run = (uri: string, groupId: string, handlers: string[] = []): Promise<JobStatusMessage> => {
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'matches',
      domainId: DOMAIN,
      groupId,
      source: { uri },
      origin: 'test',
    };
    return runImportLocally(input, { observe: (handler) => handlers.push(handler) });
  };
  const matchesIn = async (groupId: string): Promise<number> =>
    (
      await suite.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM match_suggestions WHERE domain_id = $1 AND group_id = $2',
        [DOMAIN, groupId],
      )
    ).rows[0]!.n;
  const scoreOf = async (groupId: string, row: GeneratedMatch): Promise<number | undefined> =>
    (
      await suite.pool.query<{ compatibility_score: number }>(
        `SELECT compatibility_score FROM match_suggestions
         WHERE domain_id = $1 AND group_id = $2 AND participant_id = $3 AND matched_participant_id = $4`,
        [DOMAIN, groupId, row.participant_id, row.matched_participant_id],
      )
    ).rows[0]?.compatibility_score;
  const failureOf = async (message: JobStatusMessage) =>
    (
      await suite.pool.query<{ failure_code: string; failure_message: string }>(
        'SELECT failure_code, failure_message FROM import_jobs WHERE id = $1',
        [message.jobId],
      )
    ).rows[0]!;
  const statusEvents = async (jobId: string): Promise<string[]> =>
    (
      await suite.pool.query<{ topic: string }>('SELECT topic FROM job_status_events WHERE job_id = $1', [
        jobId,
      ])
    ).rows.map((row) => row.topic);

  it('imports every row of four parts of four codecs as one job, ignoring every other file, and names a bad row by its part and row', async () => {
    const folder = join(suite.dir, 'run-1');
    await mkdir(join(folder, '_temporary', '0'), { recursive: true });
    for (let index = 0; index < 4; index++) {
      // Part 3 (index 2) has one bad row: its 1235th.
      writePart(join(folder, partName(index)), index, index === 2 ? { 1234: { participant_id: null } } : {});
    }
    for (const name of NOT_PARTS) await writeFile(join(folder, name), 'not a part');
    // An uncommitted attempt's part: under a folder starting with `_`.
    writePart(join(folder, '_temporary', '0', 'part-00009.parquet'), 9);
    const handlers: string[] = [];

    const message = await run(`${folder}/`, 'folder', handlers);

    assert.equal(message.status, 'FAILED', 'one bad row of 12,000 is over the default tolerance of 0%');
    assert.equal(message.total, 4 * PART_ROWS);
    assert.equal(message.processed, 4 * PART_ROWS - 1);
    assert.equal(await matchesIn('folder'), 4 * PART_ROWS - 1);
    assert.deepEqual(handlers, [
      'plan-matches',
      'load-match-batch',
      'load-match-batch',
      'load-match-batch',
      'load-match-batch',
      'finalize',
    ]);
    assert.deepEqual(await statusEvents(message.jobId), ['matches-import-status']);
    assert.deepEqual(message.failedList, [`${partName(2)}:row:1234`]);
    const report = (await readFile(message.failedListUri ?? '', 'utf8')).trim().split('\n');
    assert.deepEqual(report, [
      'row,participant_id,code,reason,part,part_row',
      `${2 * PART_ROWS + 1234},,MISSING_PARTICIPANT,participant_id is null or blank,${partName(2)},1234`,
    ]);
    const last = generatedMatch(4 * PART_ROWS - 1);
    assert.equal(await scoreOf('folder', last), last.compatibility_score);
    assert.equal(await scoreOf('folder', generatedMatch(9 * PART_ROWS)), undefined, 'no _temporary row');
  });

  it('fails a folder holding no part (only _SUCCESS) with NO_PARTS, and a missing folder too', async () => {
    const folder = join(suite.dir, 'run-empty');
    await mkdir(folder);
    await writeFile(join(folder, '_SUCCESS'), '');

    const empty = await run(`${folder}/`, 'empty');
    const missing = await run(join(suite.dir, 'no-such-run/'), 'missing');

    // A step's error reaches the job as its name and message: the code of an InvalidFileError is INVALID_FILE.
    for (const message of [empty, missing]) {
      assert.equal(message.status, 'FAILED');
      const failure = await failureOf(message);
      assert.equal(failure.failure_code, 'INVALID_FILE');
      assert.match(failure.failure_message, /^no Parquet part \(\*\.parquet\) in /);
    }
    assert.deepEqual(await statusEvents(empty.jobId), ['matches-import-status']);
  });

  it('imports the parts a manifest lists, in its order: a key in two parts ends with the later listed one', async () => {
    const folder = join(suite.dir, 'run-manifest');
    await mkdir(join(folder, 'b'), { recursive: true });
    writePart(join(folder, 'a.parquet'), 0);
    // Part b repeats part a's first row with another score.
    writePart(join(folder, 'b', 'part.parquet'), 1, {
      0: { ...generatedMatch(0), compatibility_score: 0.5 },
    });
    writePart(join(folder, 'unlisted.parquet'), 2);
    await writeFile(
      join(folder, 'run.manifest'),
      `# written by the engine\nb/part.parquet\n\n${folder}/a.parquet\n`,
    );

    const message = await run(join(folder, 'run.manifest'), 'manifest');

    assert.equal(message.status, 'COMPLETED', message.failureReason);
    assert.equal(message.total, 2 * PART_ROWS);
    assert.equal(await matchesIn('manifest'), 2 * PART_ROWS - 1);
    // Listed second, part a's row comes later in the job and wins.
    assert.equal(await scoreOf('manifest', generatedMatch(0)), generatedMatch(0).compatibility_score);
    assert.equal(
      await scoreOf('manifest', generatedMatch(2 * PART_ROWS)),
      undefined,
      'unlisted part left out',
    );
  });

  it('refuses a manifest naming a part outside its folder', async () => {
    const folder = join(suite.dir, 'run-escape');
    await mkdir(folder);
    await writeFile(join(folder, '_manifest'), '../run-1/part-00000.uncompressed.parquet\n');

    const message = await run(join(folder, '_manifest'), 'escape');

    assert.equal(message.status, 'FAILED');
    const failure = await failureOf(message);
    assert.equal(failure.failure_code, 'INVALID_FILE');
    assert.match(failure.failure_message, /line 1 names a part outside its folder/);
  });

  it('imports an S3 prefix: every part under it, nothing beside it', async () => {
    const put = async (key: string, body: Buffer | string) =>
      s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    const staging = join(suite.dir, 'staging-s3');
    await mkdir(staging);
    for (let index = 0; index < 4; index++) {
      writePart(join(staging, partName(index)), index);
      await put(`run-42/${partName(index)}`, await readFile(join(staging, partName(index))));
    }
    await put('run-42/_SUCCESS', '');
    // Beside the prefix, not under it: `run-42/` never lists `run-421/`.
    await put(`run-421/${partName(0)}`, await readFile(join(staging, partName(3))));
    const handlers: string[] = [];

    const message = await run(`s3://${s3.bucket}/run-42/`, 's3', handlers);

    assert.equal(message.status, 'COMPLETED', message.failureReason);
    assert.equal(message.total, 4 * PART_ROWS);
    assert.equal(await matchesIn('s3'), 4 * PART_ROWS);
    assert.equal(handlers.filter((handler) => handler === 'load-match-batch').length, 4);
  });

  it('plans a job again (a resume) against the same parts, and fails SOURCE_CHANGED once a part was added', async () => {
    const folder = join(suite.dir, 'run-resumed');
    await mkdir(folder);
    for (let index = 0; index < 2; index++) writePart(join(folder, partName(index)), index);
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'matches',
      domainId: DOMAIN,
      groupId: 'resumed',
      source: { uri: `${folder}/` },
      origin: 'test',
    };
    const deps = await runtimeDeps();

    const first = await planMatches(deps, input);
    const again = await planMatches(deps, input);
    writePart(join(folder, partName(2)), 2);

    assert.deepEqual(again, first);
    assert.equal(first.total, 2 * PART_ROWS);
    const parts = await suite.pool.query(
      'SELECT part, name, first_row::int FROM import_job_parts WHERE job_id = $1 ORDER BY part',
      [input.jobId],
    );
    assert.deepEqual(parts.rows, [
      { part: 0, name: partName(0), first_row: 0 },
      { part: 1, name: partName(1), first_row: PART_ROWS },
    ]);
    await assert.rejects(planMatches(deps, input), { code: 'SOURCE_CHANGED' });
  });

  it('fails SOURCE_CHANGED naming the part rewritten between the plan and its batch', async () => {
    const folder = join(suite.dir, 'run-changed');
    await mkdir(folder);
    for (let index = 0; index < 2; index++) writePart(join(folder, partName(index)), index);
    const changed = join(folder, partName(1));

    const message = await run(`${folder}/`, 'changed', []);
    const rewritten = await runImportLocally(
      {
        jobId: randomUUID(),
        kind: 'matches',
        domainId: DOMAIN,
        groupId: 'changed-again',
        source: { uri: `${folder}/` },
        origin: 'test',
      },
      {
        observe: (handler) => {
          if (handler === 'plan-matches') writeFileSync(changed, 'no longer the part the plan read');
        },
      },
    );

    assert.equal(message.status, 'COMPLETED', 'the untouched run loads');
    assert.equal(rewritten.status, 'FAILED');
    const failure = await failureOf(rewritten);
    assert.equal(failure.failure_code, 'SOURCE_CHANGED');
    assert.ok(failure.failure_message.includes(changed), failure.failure_message);
    assert.ok(!failure.failure_message.includes(partName(0)), 'the untouched part is not named');
  });
});
