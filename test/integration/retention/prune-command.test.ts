import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../../support/cli.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';
import { daysAgo, insertJob } from './support.ts';

/** A stored letter of the local queue, as `dlq` writes it. */
function letter(id: string): Record<string, unknown> {
  return {
    id,
    deadLetteredAt: daysAgo(60).toISOString(),
    reason: 'value is not JSON',
    code: 'NOT_JSON',
    topic: 'matchbridge-users',
    partition: 0,
    offset: 1,
    key: null,
    headers: {},
    value: 'x',
    valueEncoding: 'utf8',
  };
}

const lines = (values: unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('');

describe('matchbridge prune', () => {
  let db: TestDatabase;
  let dir: string;
  let home: string;
  const domainId = randomUUID();

  before(async () => {
    db = await testDatabase('prune_command');
    dir = await mkdtemp(join(tmpdir(), 'mb-prune-cli-'));
    home = join(dir, 'home');
    await insertJob(db.pool, domainId, { status: 'COMPLETED', age: 100, errors: 4 });
    await insertJob(db.pool, domainId, { status: 'PROCESSING', age: 100 });
    // One letter replayed 40 days ago, one replayed yesterday, one pending.
    await mkdir(join(home, 'dlq'), { recursive: true });
    await writeFile(
      join(home, 'dlq', 'ingest.jsonl'),
      lines([letter('old'), letter('recent'), letter('pending')]),
    );
    await writeFile(
      join(home, 'dlq', 'ingest.replayed.jsonl'),
      lines([
        { id: 'old', replayedAt: daysAgo(40).toISOString(), outcome: 'started', jobId: randomUUID() },
        { id: 'recent', replayedAt: daysAgo(1).toISOString(), outcome: 'duplicate' },
      ]),
    );
  });
  after(async () => {
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: home });
  const ids = async (file: string) =>
    (await readFile(join(home, 'dlq', file), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { id: string }).id);

  it('--dry-run --json: what would go, per table, and nothing changes', async () => {
    const run = await cli(['prune', '--dry-run', '--json'], env());

    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(output), ['dryRun', 'olderThanDays', 'deleted']);
    assert.equal(output.dryRun, true);
    assert.equal(output.olderThanDays, null);
    const deleted = output.deleted as Record<string, number>;
    assert.equal(deleted.import_jobs, 1);
    assert.equal(deleted.import_job_errors, 4);
    assert.equal(deleted.dead_letters, 1);
    const { rows } = await db.pool.query('SELECT 1 FROM import_jobs WHERE domain_id = $1', [domainId]);
    assert.equal(rows.length, 2);
    assert.deepEqual(await ids('ingest.jsonl'), ['old', 'recent', 'pending']);
  });

  it('deletes the old job and the letter replayed 40 days ago, keeps the running job and the other letters', async () => {
    const run = await cli(['prune', '--json'], env());

    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout) as { dryRun: boolean; deleted: Record<string, number> };
    assert.equal(output.dryRun, false);
    assert.equal(output.deleted.import_jobs, 1);
    assert.equal(output.deleted.dead_letters, 1);
    const { rows } = await db.pool.query<{ status: string }>(
      'SELECT status FROM import_jobs WHERE domain_id = $1',
      [domainId],
    );
    assert.deepEqual(
      rows.map((r) => r.status),
      ['PROCESSING'],
    );
    assert.deepEqual(await ids('ingest.jsonl'), ['recent', 'pending']);
    assert.deepEqual(await ids('ingest.replayed.jsonl'), ['recent']);
  });

  it('--older-than takes a whole number of days: anything else is a usage error (exit 2)', async () => {
    const run = await cli(['prune', '--older-than', 'soon'], env());
    assert.equal(run.code, 2);
  });
});
