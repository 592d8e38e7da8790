import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mskEvent, mskRecord } from '../support/msk-events.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';

/** What an import guarantees (README), through the bundled functions. */
describe('the assembly: what an import guarantees', { timeout: 900_000 }, () => {
  let assembly: Assembly;
  let bucket: string;
  before(async () => {
    assembly = await startAssembly();
    bucket = assembly.bucket('StagingBucket');
  });
  after(async () => {
    await assembly?.close();
  });

  function failures() {
    return JSON.stringify(
      assembly.lambda.invocations
        .filter((i) => i.errorType !== undefined)
        .map((i) => [i.handlerName, i.errorType, i.errorMessage]),
    );
  }

  async function requestImport(domain: string, key: string, offset: number): Promise<void> {
    await assembly.lambda.invoke(
      assembly.lambda.byHandler('ingest').name,
      mskEvent([
        mskRecord(JSON.stringify({ domainId: domain, groupId: 'g', filePath: `s3://${bucket}/${key}` }), {
          topic: 'matchbridge-users',
          offset,
        }),
      ]),
    );
  }

  it('a source re-uploaded between the plan and its batches fails the job SOURCE_CHANGED, naming the file', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/g/pinned.csv`;
    const put = (city: string) =>
      assembly.s3.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `reference_id,city\np1,${city}\np2,${city}\n`,
        }),
      );
    await put('Pune');
    let reuploaded = false;
    assembly.lambda.beforeInvoke = async (fn) => {
      if (fn.handlerName === 'load-batch' && !reuploaded) {
        reuploaded = true;
        await put('Mumbai');
      }
    };
    try {
      await requestImport(domain, key, 900);
      await assembly.settled();
    } finally {
      assembly.lambda.beforeInvoke = undefined;
    }

    assert.ok(reuploaded, 'a batch ran');
    const { rows } = await assembly.pool.query(
      'SELECT status, failure_code, failure_message FROM import_jobs WHERE domain_id = $1',
      [domain],
    );
    assert.deepEqual([rows[0]?.status, rows[0]?.failure_code], ['FAILED', 'SOURCE_CHANGED'], failures());
    assert.match(String(rows[0]?.failure_message), /pinned\.csv/);
    const nodes = await assembly.pool.query(
      `SELECT count(*)::int AS n FROM nodes n JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1 AND m.metadata->>'city' = 'Mumbai'`,
      [domain],
    );
    assert.equal(nodes.rows[0].n, 0, 'no row of the re-uploaded file was loaded');
  });
});
