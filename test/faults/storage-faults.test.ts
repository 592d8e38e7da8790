import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { groupState, importNodes } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';
import { startTestS3, type TestS3 } from '../support/s3.ts';

const DOMAIN = '7c4e2a19-3b5d-4f6e-8a7b-9c0d1e2f3a4b';
const ROWS = 4000;

/**
 * An HTTP proxy in front of the S3 endpoint that cuts the connection in the middle of the body of the first
 * ranged GET: the response promised its Content-Length, and half of the first chunk is all that arrives.
 */
async function cuttingProxy(
  target: string,
): Promise<{ url: string; cuts: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let cuts = 0;
  const server: Server = createServer((req, res) => {
    const cut = req.method === 'GET' && req.headers.range !== undefined && cuts === 0;
    if (cut) cuts += 1;
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (!cut) {
          answer.pipe(res);
          return;
        }
        answer.once('data', (chunk: Buffer) => {
          res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)), () => res.socket?.destroy());
          answer.destroy();
        });
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

describe('storage faults during a node import', () => {
  let s3: TestS3;
  let proxy: Awaited<ReturnType<typeof cuttingProxy>>;
  let csv: string;

  before(async () => {
    s3 = await startTestS3('mb-faults');
    proxy = await cuttingProxy(s3.endpoint);
    const lines = ['reference_id,city'];
    for (let row = 0; row < ROWS; row++) lines.push(`s-${String(row).padStart(5, '0')},city ${row % 13}`);
    csv = `${lines.join('\n')}\n`;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'nodes.csv', Body: csv }));
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await proxy?.close();
    await s3?.close();
  });
  const suite = localPipeline('storage_faults', () => ({
    SPLIT_BYTES: String(24 * 1024),
    DB_BATCH_ROWS: '500',
    S3_ENDPOINT: proxy.url,
  }));

  const run = (uri: string, groupId: string) => importNodes(DOMAIN, groupId, uri);

  const stateOf = (groupId: string) => groupState(suite.pool, DOMAIN, groupId);

  it('an S3 read cut in the middle of a range: the batch is retried and the result equals a clean run', async () => {
    const local = join(suite.dir, 'nodes.csv');
    await writeFile(local, csv);
    const clean = await run(local, 'clean');

    const faulted = await run(`s3://${s3.bucket}/nodes.csv`, 'faulted');

    assert.equal(proxy.cuts(), 1);
    assert.equal(clean.status, 'COMPLETED');
    assert.deepEqual([faulted.status, faulted.processed, faulted.failedList], ['COMPLETED', ROWS, []]);
    assert.deepEqual(await stateOf('faulted'), await stateOf('clean'));
    assert.equal((await stateOf('clean')).length, ROWS);
  });
});
