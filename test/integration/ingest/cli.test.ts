import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { localDeadLetters } from '../../../lib/local/dead-letters.ts';
import { cli, ROOT } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';
import { DYNALITE_CREDENTIALS, DYNALITE_REGION, startDynalite } from '../../support/dynalite.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = '3f1d2c4b-6a5e-4d7c-8b9a-0e1f2a3b4c5d';
const SAMPLE = join(ROOT, 'samples', 'nodes.csv');

const request = (groupId: string, filePath = SAMPLE) =>
  JSON.stringify({ domainId: DOMAIN, groupId, filePath });

interface ListedLetter {
  id: string;
  state: 'pending' | 'replayed';
  code: string;
  reason: string;
  topic: string;
  partition: number;
  offset: number;
  replay?: { id: string; outcome: string; jobId?: string };
}

describe('matchbridge ingest and dlq', () => {
  let dir: string;
  let databaseUrl: string;
  let closeDb: () => Promise<void>;
  let eventCount = 0;

  /** Writes a captured MSK event (the AWS shape) to a file and returns its path. */
  async function eventFile(records: ReturnType<typeof mskRecord>[]): Promise<string> {
    eventCount += 1;
    const file = join(dir, `event-${eventCount}.json`);
    await writeFile(file, JSON.stringify(mskEvent(records)));
    return file;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-ingest-cli-'));
    await chmod(dir, 0o755);
    const db = await testDatabase('ingest_cli');
    databaseUrl = db.url;
    closeDb = db.close;
  });
  after(async () => {
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  describe('ingest <msk-event.json>', () => {
    let env: Record<string, string | undefined>;
    before(() => {
      env = {
        DATABASE_URL: databaseUrl,
        MATCHBRIDGE_HOME: join(dir, 'ingest-home'),
        IDEMPOTENCY_TABLE: undefined,
      };
    });

    it('starts each valid request once, runs its job to the end, dead-letters the rest: one JSON object', async () => {
      const valid = mskRecord(request('ingest-a'), { topic: 'cli-users', offset: 10 });
      const file = await eventFile([
        valid,
        valid,
        mskRecord('{"domainId": ', { topic: 'cli-users', offset: 11 }),
        mskRecord(JSON.stringify({ domainId: 'nope', groupId: 'g' }), { topic: 'cli-users', offset: 12 }),
      ]);

      const run = await cli(['ingest', file, '--json'], env);

      assert.equal(run.code, 0, run.stderr);
      const outcome = JSON.parse(run.stdout);
      assert.deepEqual(Object.keys(outcome).sort(), ['deadLettered', 'duplicates', 'started']);
      assert.equal(outcome.started.length, 1);
      assert.deepEqual(
        { ...outcome.started[0], jobId: undefined },
        { jobId: undefined, topic: 'cli-users', partition: 0, offset: 10 },
      );
      assert.deepEqual(
        outcome.deadLettered.map((d: { offset: number }) => d.offset),
        [11, 12],
      );
      assert.equal(outcome.duplicates, 1);
      const shown = await cli(['jobs', 'show', outcome.started[0].jobId, '--json'], env);
      assert.equal(shown.code, 0, shown.stderr);
      const job = JSON.parse(shown.stdout);
      assert.equal(job.status, 'COMPLETED');
      assert.equal(job.processed, 12);
      assert.equal(job.groupId, 'ingest-a');
    });

    it('starts nothing when the same event is ingested again: its job ids already ran', async () => {
      const file = await eventFile([mskRecord(request('ingest-b'), { topic: 'cli-users', offset: 20 })]);
      const first = await cli(['ingest', file, '--json'], env);

      const second = await cli(['ingest', file, '--json'], env);

      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(JSON.parse(first.stdout).started.length, 1);
      assert.deepEqual(JSON.parse(second.stdout), { started: [], deadLettered: [], duplicates: 1 });
    });

    it('exits 1 when a started job FAILED', async () => {
      const csv = join(dir, 'bad.csv');
      await writeFile(csv, 'reference_id,name\nok,A\n,B\n');
      const file = await eventFile([
        mskRecord(request('ingest-bad', csv), { topic: 'cli-users', offset: 30 }),
      ]);

      const run = await cli(['ingest', file, '--json'], env);

      assert.equal(run.code, 1, run.stderr);
      assert.equal(JSON.parse(run.stdout).started.length, 1);
    });

    it('exits 2 with a one-line reason when the file cannot be read or is not an MSK event', async () => {
      const notJson = join(dir, 'not-json.json');
      await writeFile(notJson, 'records: []');
      const notMsk = join(dir, 'not-msk.json');
      await writeFile(notMsk, JSON.stringify({ Records: [{ eventSource: 'aws:s3' }] }));

      for (const file of [join(dir, 'missing.json'), notJson, notMsk]) {
        const run = await cli(['ingest', file, '--json'], env);
        assert.equal(run.code, 2, `${file}: ${run.stderr}`);
        assert.equal(run.stdout, '');
        assert.match(run.stderr.split('\n')[0] ?? '', /^matchbridge: /);
      }
      assert.equal((await cli(['ingest'], env)).code, 2);
    });

    it('records each start in the idempotency table when one is configured', async () => {
      const dynamo = await startDynalite();
      try {
        const withTable = {
          ...env,
          IDEMPOTENCY_TABLE: dynamo.tableName,
          DYNAMODB_ENDPOINT: dynamo.endpoint,
          AWS_REGION: DYNALITE_REGION,
          AWS_ACCESS_KEY_ID: DYNALITE_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: DYNALITE_CREDENTIALS.secretAccessKey,
        };
        const record = mskRecord(request('ingest-c'), { topic: 'cli-users', offset: 40 });
        const file = await eventFile([record, record]);

        const run = await cli(['ingest', file, '--json'], withTable);

        assert.equal(run.code, 0, run.stderr);
        assert.equal(JSON.parse(run.stdout).duplicates, 1);
        const client = new DynamoDBClient({
          endpoint: dynamo.endpoint,
          region: DYNALITE_REGION,
          credentials: DYNALITE_CREDENTIALS,
        });
        const { Items } = await client.send(new ScanCommand({ TableName: dynamo.tableName }));
        client.destroy();
        assert.deepEqual(
          (Items ?? []).map((item) => item.status?.S),
          ['COMPLETED'],
        );
      } finally {
        await dynamo.close();
      }
    });
  });

  describe('dlq list | dlq replay [<id>]', () => {
    let env: Record<string, string | undefined>;
    let home: string;

    const list = async (): Promise<ListedLetter[]> => {
      const run = await cli(['dlq', 'list', '--json'], env);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout);
    };

    before(async () => {
      home = join(dir, 'dlq-home');
      env = { DATABASE_URL: databaseUrl, MATCHBRIDGE_HOME: home, IDEMPOTENCY_TABLE: undefined };
      const file = await eventFile([
        mskRecord('{"domainId": ', { topic: 'dlq-users', offset: 1, key: 'k1' }),
        mskRecord(JSON.stringify({ domainId: DOMAIN }), { topic: 'dlq-users', offset: 2 }),
      ]);
      const run = await cli(['ingest', file, '--json'], env);
      assert.equal(run.code, 0, run.stderr);
    });

    it('lists the letters with their id, code, reason and position', async () => {
      const letters = await list();

      assert.deepEqual(
        letters.map((l) => [l.state, l.code, l.topic, l.partition, l.offset]),
        [
          ['pending', 'NOT_JSON', 'dlq-users', 0, 1],
          ['pending', 'SCHEMA_VIOLATION', 'dlq-users', 0, 2],
        ],
      );
      assert.equal(new Set(letters.map((l) => l.id)).size, 2);
      const text = await cli(['dlq', 'list'], env);
      assert.equal(text.code, 0, text.stderr);
      for (const letter of letters) assert.ok(text.stdout.includes(letter.id));
    });

    it('replays the pending letters: one valid now runs its job, the others are dead-lettered again', async () => {
      // A letter written under an older rule, whose request today's rules accept.
      await localDeadLetters(home).send({
        reason: 'reference imports are not supported by this version',
        code: 'UNSUPPORTED_REQUEST',
        topic: 'dlq-users',
        partition: 0,
        offset: 3,
        key: null,
        headers: {},
        value: request('dlq-replayed'),
        valueEncoding: 'utf8',
      });
      const before = await list();

      const run = await cli(['dlq', 'replay', '--json'], env);

      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.deepEqual(
        result.replayed.map((r: { id: string; outcome: string }) => [r.id, r.outcome]),
        before.map((l) => [l.id, l.offset === 3 ? 'started' : 'dead-lettered']),
      );
      assert.deepEqual([result.started, result.deadLettered, result.duplicates], [1, 2, 0]);
      const jobId = result.replayed.find((r: { outcome: string }) => r.outcome === 'started').jobId;
      const shown = await cli(['jobs', 'show', jobId, '--json'], env);
      assert.equal(JSON.parse(shown.stdout).status, 'COMPLETED');

      const after = await list();
      assert.deepEqual(
        after.map((l) => [l.state, l.replay?.outcome ?? null, l.code, l.offset]),
        [
          ['replayed', 'dead-lettered', 'NOT_JSON', 1],
          ['replayed', 'dead-lettered', 'SCHEMA_VIOLATION', 2],
          ['replayed', 'started', 'UNSUPPORTED_REQUEST', 3],
          ['pending', null, 'NOT_JSON', 1],
          ['pending', null, 'SCHEMA_VIOLATION', 2],
        ],
      );
    });

    it('replays one letter by id, and refuses an unknown or an already replayed id', async () => {
      const pending = (await list()).filter((l) => l.state === 'pending');
      const target = pending[0];
      assert.ok(target);

      const run = await cli(['dlq', 'replay', target.id, '--json'], env);

      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        JSON.parse(run.stdout).replayed.map((r: { id: string }) => r.id),
        [target.id],
      );
      const states = new Map((await list()).map((l) => [l.id, l.state]));
      assert.equal(states.get(target.id), 'replayed');
      assert.equal(states.get(pending[1]?.id ?? ''), 'pending');
      assert.equal((await cli(['dlq', 'replay', target.id], env)).code, 2);
      assert.equal((await cli(['dlq', 'replay', '00000000-0000-4000-8000-000000000000'], env)).code, 2);
    });

    it('prints a JSON list of letters with their fields in one order, a replayed one with its replay mark', async () => {
      const run = await cli(['dlq', 'list', '--json'], env);

      assert.equal(run.code, 0, run.stderr);
      const letters = JSON.parse(run.stdout) as ListedLetter[];
      // One letter a line, the array's brackets and commas leading.
      assert.equal(run.stdout, `[${letters.map((l) => JSON.stringify(l)).join('\n,')}\n]\n`);
      const fields = [
        'id',
        'deadLetteredAt',
        'state',
        'code',
        'reason',
        'topic',
        'partition',
        'offset',
        'key',
      ];
      const pending = letters.find((l) => l.state === 'pending');
      const started = letters.find((l) => l.replay?.outcome === 'started');
      const again = letters.find((l) => l.replay?.outcome === 'dead-lettered');
      assert.deepEqual(Object.keys(pending ?? {}), fields);
      assert.deepEqual(Object.keys(started ?? {}), [...fields, 'replay']);
      assert.deepEqual(Object.keys(started?.replay ?? {}), ['id', 'replayedAt', 'outcome', 'jobId']);
      assert.deepEqual(Object.keys(again?.replay ?? {}), ['id', 'replayedAt', 'outcome', 'reason']);
      assert.equal(started?.replay?.id, started?.id);
    });
  });
});
