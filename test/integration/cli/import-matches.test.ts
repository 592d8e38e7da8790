import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generatedMatch, writeMatchParquet } from '../../../bench/generate-matches.ts';
import { JobStatusMessageSchema } from '../../../lib/jobs/status-message.ts';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

describe('matchbridge import matches', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-cli-matches-'));
    await chmod(dir, 0o755);
    const db = await testDatabase('cli_matches');
    closeDb = db.close;
    env = { DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home'), POWERTOOLS_METRICS_DISABLED: 'true' };
  });
  after(async () => {
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports a Parquet file and prints exactly one status message with --json (exit 0)', async () => {
    const file = join(dir, 'matches.parquet');
    writeMatchParquet(file, 3_000, { codec: 'ZSTD', rowGroupRows: 1_000 });

    const run = await cli(['import', 'matches', file, '--domain', DOMAIN, '--group', 'cli', '--json'], env);

    assert.equal(run.code, 0, run.stderr);
    const message = JSON.parse(run.stdout);
    assert.ok(JobStatusMessageSchema.safeParse(message).success);
    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.kind, 'matches');
    assert.equal(message.total, 3_000);
    assert.equal(message.processed, 3_000);
  });

  it('imports a folder of Parquet parts (trailing /) as one job, a bad row named by its part and row', async () => {
    const folder = join(dir, 'run-1');
    await mkdir(folder);
    writeMatchParquet(join(folder, 'part-0.parquet'), 1_000, { codec: 'SNAPPY', rowGroupRows: 500 });
    writeMatchParquet(join(folder, 'part-1.parquet'), 1_000, {
      codec: 'GZIP',
      rowGroupRows: 500,
      // Rows of their own: the first part's keys again would be duplicates.
      row: (i) => ({ ...generatedMatch(1_000 + i), ...(i === 7 ? { participant_id: null } : {}) }),
    });
    await writeFile(join(folder, '_SUCCESS'), '');

    const run = await cli(
      ['import', 'matches', `${folder}/`, '--domain', DOMAIN, '--group', 'cli-folder', '--json'],
      env,
    );

    assert.equal(run.code, 1, run.stderr);
    const message = JSON.parse(run.stdout);
    assert.equal(message.total, 2_000);
    assert.equal(message.processed, 1_999);
    assert.deepEqual(message.failedList, ['part-1.parquet:row:7']);
  });

  it('exits 1 with a FAILED status for a file with bad rows or a file that is not Parquet', async () => {
    const bad = join(dir, 'bad.parquet');
    writeMatchParquet(bad, 100, {
      rowGroupRows: 50,
      row: (i, row) => (i === 42 ? { ...row, participant_id: null } : row),
    });
    const notParquet = join(dir, 'not.parquet');
    await writeFile(notParquet, 'not parquet at all');

    const badRun = await cli(
      ['import', 'matches', bad, '--domain', DOMAIN, '--group', 'cli-bad', '--json'],
      env,
    );
    const corruptRun = await cli(
      ['import', 'matches', notParquet, '--domain', DOMAIN, '--group', 'cli-corrupt', '--json'],
      env,
    );

    assert.equal(badRun.code, 1, badRun.stderr);
    assert.deepEqual(JSON.parse(badRun.stdout).failedList, ['row:42']);
    assert.equal(corruptRun.code, 1, corruptRun.stderr);
    assert.match(JSON.parse(corruptRun.stdout).failureReason, /not a Parquet file/);
  });

  it('exits 2 for a usage error or a missing file', async () => {
    const noDomain = await cli(['import', 'matches', join(dir, 'x.parquet'), '--group', 'g', '--json'], env);
    const missing = await cli(
      ['import', 'matches', join(dir, 'missing.parquet'), '--domain', DOMAIN, '--group', 'g', '--json'],
      env,
    );

    assert.equal(noDomain.code, 2);
    assert.equal(noDomain.stdout, '');
    assert.equal(missing.code, 2);
    assert.equal(missing.stdout, '');
  });
});
