import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Admin } from '@platformatic/kafka';
import { parse } from 'csv-parse/sync';
import type { ExportGroupInput, ExportRangeInput, ExportSummary } from '../../lib/export/types.ts';
import {
  createDomain,
  expectedMetadata,
  insertUsers,
  nodesOf,
  type TestUser,
  wholeGroupCsv,
} from '../integration/export/support.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';

const COST_BASED: TestUser[] = [
  { username: 'ana', gender: 'f', date_of_birth: '1990-04-01', smokes: false, preferred_genders: ['m', 'f'] },
  { username: 'bo', location: 'Pune', wants_kids: true },
  { username: 'cy', bio: 'likes "quotes", commas' },
];
const BY_NAME: TestUser[] = [{ username: 'dee' }, { username: 'eli' }];

describe('the assembly: the daily user export, round trip through Kafka', { timeout: 900_000 }, () => {
  let assembly: Assembly;
  before(async () => {
    assembly = await startAssembly();
  });
  after(async () => {
    await assembly?.close();
  });

  it('exports on schedule, sends the requests over MSK, and the mapping imports them as nodes', async () => {
    const domain = await createDomain(assembly.pool, [
      ['costly', true],
      ['by-name', false],
    ]);
    await insertUsers(assembly.pool, domain, 'costly', COST_BASED);
    await insertUsers(assembly.pool, domain, 'by-name', BY_NAME);
    await insertUsers(assembly.pool, domain, 'by-name', [
      { username: 'not-ready', ready_for_matching: false },
    ]);

    const run = assembly.fireSchedule('UserExport');
    const outcome = await assembly.execution(run);
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome));
    const delivered = (await assembly.deliverKafka('matchbridge-users', 2)) as { started: unknown[] }[];
    await assembly.settled();

    assert.equal(
      delivered.reduce((n, o) => n + o.started.length, 0),
      2,
    );
    const { rows: jobs } = await assembly.pool.query(
      `SELECT group_id, status FROM import_jobs WHERE domain_id = $1 ORDER BY group_id`,
      [domain],
    );
    assert.deepEqual(
      jobs.map((j) => [j.group_id, j.status]),
      [
        ['by-name', 'COMPLETED'],
        ['costly', 'COMPLETED'],
      ],
    );
    const { rows: nodes } = await assembly.pool.query(
      `SELECT n.group_id, n.reference_id, m.metadata FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1 ORDER BY 1, 2`,
      [domain],
    );
    assert.deepEqual(
      nodes.filter((n) => n.group_id === 'by-name').map((n) => n.reference_id),
      ['dee', 'eli'],
    );
    assert.deepEqual(
      nodes.filter((n) => n.group_id === 'costly').map((n) => [n.reference_id, n.metadata]),
      COST_BASED.map((u) => [u.username, expectedMetadata(u, 'costly')]),
    );
    const file = (
      (
        await assembly.pool.query(
          `SELECT source FROM import_jobs WHERE domain_id = $1 AND group_id = 'costly'`,
          [domain],
        )
      ).rows[0] as { source: string }
    ).source;
    const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.+)$/.exec(file) ?? [];
    assert.match(key, new RegExp(`^exports/users/${domain}/costly/users_\\d{4}-\\d{2}-\\d{2}\\.csv\\.gz$`));
    const object = await assembly.s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const csv = gunzipSync(
      Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array())),
    ).toString();
    assert.equal(csv.trim().split('\n').length, 1 + COST_BASED.length);
  });
});

/** Users one export function writes, forced down (`userExport.rowsPerFunction`) so that 25 users take three. */
const ROWS_PER_FUNCTION = 10;
/** 25 ready users (ranges of 10, 10 and 5), quoting, line breaks and a formula among them, and one not ready. */
const LARGE_GROUP: TestUser[] = [
  ...Array.from({ length: 25 }, (_, i) => ({
    username: `user-${String(i).padStart(2, '0')}`,
    bio: i % 4 === 0 ? `=SUM(A${i})\nline "two", three` : `bio ${i}`,
    location: i % 3 === 0 ? 'Pune' : null,
    smokes: i % 2 === 0,
    preferred_genders: i % 5 === 0 ? ['f', 'm'] : [],
  })),
  { username: 'user-not-ready', ready_for_matching: false },
];
const READY = LARGE_GROUP.filter((u) => u.ready_for_matching !== false);
const RANGES = Math.ceil(READY.length / ROWS_PER_FUNCTION);

describe('the assembly: the user export of a group cut into ranges', { timeout: 900_000 }, () => {
  let assembly: Assembly;
  before(async () => {
    assembly = await startAssembly({ context: { userExport: { rowsPerFunction: ROWS_PER_FUNCTION } } });
  });
  after(async () => {
    await assembly?.close();
  });

  it('writes the ranges in functions of their own, joins them, sends one request, imports all', async () => {
    const domain = await createDomain(assembly.pool, [['large', true]]);
    await insertUsers(assembly.pool, domain, 'large', LARGE_GROUP);

    const run = assembly.fireSchedule('UserExport');
    const outcome = await assembly.execution(run);

    if (outcome.status !== 'SUCCEEDED') assert.fail(JSON.stringify(outcome));
    // The split is taken: ExportGroup handed the group to the ranges' Map (one ExportRange invocation per
    // range, each a bundled export-group of its own) and FinishGroup joined their parts. Counted on the
    // invocations that succeeded: a transient failure retried is no second range.
    const succeeded = assembly.lambda.invocations.filter(
      (i) =>
        i.handlerName === 'export-group' &&
        i.errorType === undefined &&
        (i.event as ExportGroupInput).group.domainId === domain,
    );
    assert.deepEqual(
      succeeded
        .filter((i) => 'range' in (i.event as object))
        .map((i) => (i.event as ExportRangeInput).range.index)
        .sort((a, b) => a - b),
      Array.from({ length: RANGES }, (_, index) => index),
      'one ExportRange invocation per range: the group was not cut into ranges',
    );
    assert.equal(succeeded.filter((i) => 'parts' in (i.event as object)).length, 1);
    const [group] = (outcome.output as ExportSummary).groups;
    assert.deepEqual([group?.status, group?.exported, group?.messages], ['COMPLETED', READY.length, 1]);

    // One file, every ready user in it once (the header member and the parts' members read as one gzip),
    // the same bytes as one function would have written; no part left beside it.
    const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.+)$/.exec(group?.file ?? '') ?? [];
    assert.match(key, new RegExp(`^exports/users/${domain}/large/users_\\d{4}-\\d{2}-\\d{2}\\.csv\\.gz$`));
    const object = await assembly.s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const csv = gunzipSync(await (object.Body?.transformToByteArray() ?? new Uint8Array())).toString('utf8');
    const records = parse(csv, { columns: true }) as Record<string, string>[];
    assert.deepEqual(records.map((r) => r.reference_id).sort(), READY.map((u) => u.username).sort());
    assert.equal(csv, await wholeGroupCsv(assembly.pool, domain, 'large'));
    const listed = await assembly.s3.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `exports/users/${domain}/` }),
    );
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key),
      [key],
    );

    // Exactly one import request on the topic (this assembly's broker carries nothing else), and the import it
    // starts through the MSK mapping completes with every user as a node.
    assert.equal(await recordsOn(assembly.kafka.bootstrap, 'matchbridge-users'), 1);
    const delivered = (await assembly.deliverKafka('matchbridge-users', 1)) as { started: unknown[] }[];
    await assembly.settled();
    assert.equal(
      delivered.reduce((n, o) => n + o.started.length, 0),
      1,
    );
    const { rows: jobs } = await assembly.pool.query(
      `SELECT group_id, status, source, total::int FROM import_jobs WHERE domain_id = $1`,
      [domain],
    );
    assert.deepEqual(jobs, [
      { group_id: 'large', status: 'COMPLETED', source: group?.file, total: READY.length },
    ]);
    assert.deepEqual(
      await nodesOf(assembly.pool, domain, 'large'),
      new Map(READY.map((u) => [u.username, expectedMetadata(u, 'large')])),
    );
  });
});

/** Records written to `topic` so far: the sum of its partitions' end offsets (no producer is transactional). */
async function recordsOn(bootstrap: string, topic: string): Promise<number> {
  const admin = new Admin({ clientId: 'assembly-offsets', bootstrapBrokers: [bootstrap] });
  try {
    const { topics } = await admin.metadata({ topics: [topic] });
    const partitions = topics.get(topic)?.partitionsCount ?? 0;
    const listed = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
            partitionIndex,
            timestamp: -1n,
          })),
        },
      ],
    });
    return listed.flatMap((t) => t.partitions).reduce((n, p) => n + Number(p.offset), 0);
  } finally {
    await admin.close();
  }
}
