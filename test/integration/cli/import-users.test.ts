import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '3b4c5d6e-7f80-4a1b-9c2d-3e4f5a6b7c8d';

describe('matchbridge import users', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-cli-users-'));
    const db = await testDatabase('cli_users');
    closeDb = db.close;
    await db.pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [DOMAIN]);
    await db.pool.query(`INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, 'g', 'G')`, [
      DOMAIN,
    ]);
    env = { DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home'), POWERTOOLS_METRICS_DISABLED: 'true' };
  });
  after(async () => {
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a CSV file (exit 0) and reports the failed lines of an NDJSON file (exit 1) as one JSON object', async () => {
    const csv = join(dir, 'users.csv');
    await writeFile(csv, 'username,smokes\nann,no\nben,yes\n');
    const ok = await cli(['import', 'users', csv, '--domain', DOMAIN, '--group', 'g', '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    const done = JSON.parse(ok.stdout);
    assert.equal(done.status, 'COMPLETED');
    assert.equal(done.processed, 2);

    const ndjson = join(dir, 'users.ndjson');
    await writeFile(ndjson, '{"username":"cat"}\n{"username":""}\n{"smokes":"maybe"}\n');
    const bad = await cli(['import', 'users', ndjson, '--domain', DOMAIN, '--group', 'g', '--json'], env);
    assert.equal(bad.code, 1, bad.stderr);
    const failed = JSON.parse(bad.stdout);
    assert.equal(failed.kind, 'users');
    assert.equal(failed.status, 'FAILED');
    assert.deepEqual(failed.failedList, ['line:2', 'line:3']);
  });
});
