import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { objectCreatedEvent } from '../support/s3-events.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';

describe('the assembly: imports through the bundled functions', { timeout: 600_000 }, () => {
  let assembly: Assembly;
  before(async () => {
    assembly = await startAssembly();
  });
  after(async () => {
    await assembly?.close();
  });

  it('imports a CSV.gz uploaded under incoming/nodes/, started by the EventBridge rule of the template', async () => {
    const domain = randomUUID();
    const bucket = assembly.bucket('StagingBucket');
    const key = `incoming/nodes/${domain}/upload-group/nodes.csv.gz`;
    const csv = 'reference_id,city\nu1,Pune\nu2,Delhi\nu3,\n';
    await assembly.s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(csv) }));

    const invoked = await assembly.deliverEvent(objectCreatedEvent(key, { bucket, sequencer: '0A1B2C' }));
    await assembly.settled();

    assert.deepEqual(invoked, ['object-created']);
    const job = await assembly.pool.query(
      `SELECT id, status, total, processed FROM import_jobs WHERE domain_id = $1`,
      [domain],
    );
    assert.equal(job.rows.length, 1);
    assert.equal(
      job.rows[0].status,
      'COMPLETED',
      JSON.stringify(
        assembly.lambda.invocations
          .filter((i) => i.errorType)
          .map((i) => [i.handlerName, i.errorType, i.errorMessage]),
      ),
    );
    const nodes = await assembly.pool.query(
      `SELECT n.reference_id, m.metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1 AND n.group_id = 'upload-group' ORDER BY 1`,
      [domain],
    );
    assert.deepEqual(
      nodes.rows.map((r) => [r.reference_id, r.metadata]),
      [
        ['u1', { city: 'Pune' }],
        ['u2', { city: 'Delhi' }],
        ['u3', {}],
      ],
    );
    const report = await assembly.s3.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `reports/${job.rows[0].id}/success.csv` }),
    );
    assert.match((await report.Body?.transformToString()) ?? '', /u1/);
  });
});
