import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';
import { createDomain, insertUsers } from '../export/support.ts';

describe('matchbridge export users', () => {
  let dir: string;
  let databaseUrl: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-export-cli-'));
    const db = await testDatabase('export_cli');
    databaseUrl = db.url;
    pool = db.pool;
    closeDb = db.close;
  });
  after(async () => {
    await closeDb?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({
    DATABASE_URL: databaseUrl,
    MATCHBRIDGE_HOME: join(dir, 'home'),
    KAFKA_BROKERS: undefined,
  });

  it('--json: one object with the groups, and the requests printed when no broker is configured', async () => {
    const domainId = await createDomain(pool, [
      ['paid', true],
      ['free', false],
    ]);
    await insertUsers(pool, domainId, 'paid', [{ username: 'p1', bio: '=1+2' }]);
    await insertUsers(pool, domainId, 'free', [{ username: 'f1' }, { username: 'f2' }]);

    const run = await cli(['export', 'users', '--domain', domainId, '--full', '--json'], env());

    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      runId: string;
      full: boolean;
      groups: Array<{
        groupId: string;
        status: string;
        exported: number;
        file: string | null;
        messages: number;
      }>;
      sentMessages: Array<{ topic: string; value: Record<string, unknown>; headers: Record<string, string> }>;
    };
    assert.equal(out.full, true);
    assert.deepEqual(
      out.groups.map((g) => [g.groupId, g.status, g.exported, g.messages]),
      [
        ['free', 'COMPLETED', 2, 1],
        ['paid', 'COMPLETED', 1, 1],
      ],
    );
    assert.match(
      out.groups[1]?.file ?? '',
      /home\/objects\/exports\/users\/.+\/paid\/users_\d{4}-\d{2}-\d{2}\.csv\.gz$/,
    );
    assert.deepEqual(
      out.sentMessages.map((m) => [m.topic, m.headers.runId, m.value.usernames ?? m.value.filePath]),
      [
        ['matchbridge-users', out.runId, ['f1', 'f2']],
        ['matchbridge-users', out.runId, out.groups[1]?.file],
      ],
    );
  });

  it('exits 1 when a group failed, 2 on a usage error', async () => {
    const domainId = await createDomain(pool, [['bad', false, 'no such topic!']]);
    await insertUsers(pool, domainId, 'bad', [{ username: 'b1' }]);

    const failed = await cli(['export', 'users', '--domain', domainId], env());
    const usage = await cli(['export', 'nodes'], env());

    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /group bad .* FAILED/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /export users/);
  });
});
