import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = '3f1d2c4b-6a5e-4d7c-8b9a-0e1f2a3b4c5d';

describe('matchbridge command line', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-cli-'));
    // When tests run as root, the embedded server runs as the postgres user, who must reach its data folder.
    await chmod(dir, 0o755);
    const db = await testDatabase('cli');
    closeDb = db.close;
    env = { DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home') };
  });
  after(async () => {
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports the sample and prints exactly one status message with --json', async () => {
    const run = await cli(
      ['import', 'nodes', 'samples/nodes.csv', '--domain', DOMAIN, '--group', 'cli', '--json'],
      env,
    );

    assert.equal(run.code, 0, run.stderr);
    const message = JSON.parse(run.stdout);
    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.kind, 'nodes');
    assert.equal(message.total, 12);
    assert.equal(message.processed, 12);
    assert.equal(message.domainId, DOMAIN);

    const shown = await cli(['jobs', 'show', message.jobId, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), message);

    const listed = await cli(['jobs', 'list', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).some((job: { id: string }) => job.id === message.jobId));
  });

  it('imports the gzip sample the same way', async () => {
    const run = await cli(
      ['import', 'nodes', 'samples/nodes.csv.gz', '--domain', DOMAIN, '--group', 'cli-gz', '--json'],
      env,
    );

    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).processed, 12);
  });

  it('imports references from --ids and from an --ids-file', async () => {
    const inline = await cli(
      ['import', 'references', '--ids', 'a,b,c', '--domain', DOMAIN, '--group', 'cli-refs', '--json'],
      env,
    );
    assert.equal(inline.code, 0, inline.stderr);
    assert.equal(JSON.parse(inline.stdout).processed, 3);

    const file = join(dir, 'ids.txt');
    await writeFile(file, `${Array.from({ length: 2_500 }, (_, i) => `user-${i}`).join('\n')}\n\n`);
    const fromFile = await cli(
      ['import', 'references', '--ids-file', file, '--domain', DOMAIN, '--group', 'cli-refs', '--json'],
      env,
    );
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const message = JSON.parse(fromFile.stdout);
    assert.equal(message.total, 2_500);
    assert.equal(message.processed, 2_500);

    const both = await cli(['import', 'references', '--domain', DOMAIN, '--group', 'g'], env);
    assert.equal(both.code, 2);
  });

  it('ingests an MSK event carrying a reference list and runs its job', async () => {
    const event = join(dir, 'event.json');
    await writeFile(
      event,
      JSON.stringify(
        mskEvent([
          mskRecord(
            JSON.stringify({ domainId: DOMAIN, groupId: 'cli-ingest-refs', usernames: ['u1', 'u2', ''] }),
            {
              offset: 5,
            },
          ),
        ]),
      ),
    );

    const run = await cli(['ingest', event, '--json'], env);

    assert.equal(run.code, 1, run.stderr);
    const outcome = JSON.parse(run.stdout);
    assert.equal(outcome.started.length, 1);
    const shown = await cli(['jobs', 'show', outcome.started[0].jobId, '--json'], env);
    const message = JSON.parse(shown.stdout);
    assert.equal(message.status, 'FAILED');
    assert.equal(message.processed, 2);
    assert.deepEqual(message.failedList, ['line:4']);
  });

  it('--as-of: a run older than the data held writes nothing and says stale; a bad time is a usage error', async () => {
    const run = (asOf: string) =>
      cli(
        [
          'import',
          'nodes',
          'samples/nodes.csv',
          '--domain',
          DOMAIN,
          '--group',
          'cli-asof',
          '--as-of',
          asOf,
          '--json',
        ],
        env,
      );

    const newer = await run('2026-12-02T00:00:00Z');
    const older = await run('2026-12-01T00:00:00+05:30');
    const bad = await run('yesterday');

    assert.equal(newer.code, 0, newer.stderr);
    assert.equal(JSON.parse(newer.stdout).stale, 0);
    assert.equal(older.code, 0, older.stderr);
    const message = JSON.parse(older.stdout);
    assert.deepEqual(
      [message.status, message.total, message.processed, message.stale],
      ['COMPLETED', 12, 0, 12],
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr.split('\n')[0] ?? '', /^matchbridge: .*--as-of/);
  });

  it('exits 1 when the job FAILED', async () => {
    const file = join(dir, 'bad.csv');
    await writeFile(file, 'reference_id,name\nok,A\n,B\n');

    const run = await cli(['import', 'nodes', file, '--domain', DOMAIN, '--group', 'cli-bad', '--json'], env);

    assert.equal(run.code, 1);
    const message = JSON.parse(run.stdout);
    assert.equal(message.status, 'FAILED');
    assert.deepEqual(message.failedList, ['line:3']);
  });

  it('exits 2 with a one-line reason for usage and input errors', async () => {
    const noDomain = await cli(['import', 'nodes', 'samples/nodes.csv', '--group', 'g'], env);
    assert.equal(noDomain.code, 2);
    assert.match(noDomain.stderr.split('\n')[0] ?? '', /^matchbridge: .*--domain/);
    assert.equal(noDomain.stdout, '');

    const missing = await cli(
      ['import', 'nodes', join(dir, 'nope.csv'), '--domain', DOMAIN, '--group', 'g'],
      env,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /not found/);

    const unknown = await cli(['frobnicate'], env);
    assert.equal(unknown.code, 2);

    // Issue 21: a local server trusts the domain a request names, so it may not be exposed without a token.
    const exposed = await cli(['api', '--host', '0.0.0.0', '--port', '0'], { ...env, API_TOKEN: undefined });
    assert.equal(exposed.code, 2);
    assert.match(exposed.stderr.split('\n')[0] ?? '', /^matchbridge: .*API_TOKEN/);
    assert.equal(exposed.stdout, '');
  });

  it('runs on an embedded PostgreSQL when no database is configured, and keeps its jobs', async () => {
    const home = join(dir, 'embedded-home');
    const embeddedEnv = { DATABASE_URL: undefined, MATCHBRIDGE_HOME: home };

    const run = await cli(
      ['import', 'nodes', 'samples/nodes.csv', '--domain', DOMAIN, '--group', 'embedded', '--json'],
      embeddedEnv,
    );

    assert.equal(run.code, 0, run.stderr);
    const message = JSON.parse(run.stdout);
    assert.equal(message.status, 'COMPLETED');
    const listed = await cli(['jobs', 'list', '--json'], embeddedEnv);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((job: { id: string }) => job.id),
      [message.jobId],
    );
  });
});
