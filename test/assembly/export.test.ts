import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createDomain, expectedMetadata, insertUsers, type TestUser } from '../integration/export/support.ts';
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
