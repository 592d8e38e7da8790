import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { planImport } from '../../../lib/jobs/plan-import.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../../../lib/model/types.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { groupState } from '../../support/faults.ts';
import { localPipeline } from '../../support/local-pipeline.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';

const DOMAIN = '3f1d7a52-6c2e-4b8a-9e0f-1a2b3c4d5e6f';
const ROWS = 3000;

function nodesCsv(city: string): string {
  const lines = ['reference_id,city'];
  for (let row = 0; row < ROWS; row++) lines.push(`p-${String(row).padStart(5, '0')},${city}`);
  return `${lines.join('\n')}\n`;
}

/**
 * An HTTP proxy in front of the S3 endpoint that runs `beforeFirstBatch` before it forwards the first ranged
 * GET past the first bytes: the plan has read the object by then, and that read is a batch's.
 */
async function reuploadingProxy(
  target: string,
  beforeFirstBatch: () => Promise<void>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let pending: Promise<void> | undefined;
  const server: Server = createServer((req, res) => {
    const start = /^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1];
    const batchRead = req.method === 'GET' && start !== undefined && Number(start) > 0;
    if (batchRead) pending ??= beforeFirstBatch();
    void (pending ?? Promise.resolve()).then(() => {
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
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

describe('a pinned source: an import reads the version its plan read, or fails SOURCE_CHANGED', () => {
  let s3: TestS3;
  let proxy: Awaited<ReturnType<typeof reuploadingProxy>>;

  before(async () => {
    s3 = await startTestS3('mb-pinned');
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: 'nodes.csv', Body: nodesCsv('old') }),
    );
    proxy = await reuploadingProxy(s3.endpoint, async () => {
      await s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: 'nodes.csv', Body: nodesCsv('corrected') }),
      );
    });
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await proxy?.close();
    await s3?.close();
  });
  const suite = localPipeline('pinned_source', () => ({
    SPLIT_BYTES: String(8 * 1024),
    DB_BATCH_ROWS: '500',
    S3_ENDPOINT: proxy.url,
  }));

  const input = (uri: string, groupId: string): ImportExecutionInput => ({
    jobId: randomUUID(),
    kind: 'nodes',
    domainId: DOMAIN,
    groupId,
    source: { uri },
    origin: 'test',
  });

  const failureOf = async (message: JobStatusMessage) => {
    const { rows } = await suite.pool.query<{ failure_code: string; failure_message: string }>(
      'SELECT failure_code, failure_message FROM import_jobs WHERE id = $1',
      [message.jobId],
    );
    return rows[0]!;
  };

  it('an object re-uploaded between the plan and the batches fails the job SOURCE_CHANGED, naming it', async () => {
    const uri = `s3://${s3.bucket}/nodes.csv`;

    const message = await runImportLocally(input(uri, 'reuploaded'));

    assert.equal(message.status, 'FAILED');
    const failure = await failureOf(message);
    assert.equal(failure.failure_code, 'SOURCE_CHANGED');
    assert.ok(failure.failure_message.includes(uri), failure.failure_message);
    const { rows } = await suite.pool.query(
      `SELECT count(*)::int AS n FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.group_id = 'reuploaded' AND m.metadata->>'city' = 'corrected'`,
    );
    assert.equal(rows[0].n, 0, 'no row of the new file was loaded');
  });

  it('a local file rewritten between the plan and the batches fails the job SOURCE_CHANGED', async () => {
    const file = join(suite.dir, 'local.csv');
    await writeFile(file, nodesCsv('old'));

    const message = await runImportLocally(input(file, 'rewritten'), {
      observe: (handler) => {
        // Same size, another content: only the modification time tells the versions apart.
        if (handler === 'plan') writeFileSync(file, nodesCsv('new'));
      },
    });

    assert.equal(message.status, 'FAILED');
    assert.equal((await failureOf(message)).failure_code, 'SOURCE_CHANGED');
    assert.deepEqual(await groupState(suite.pool, DOMAIN, 'rewritten'), []);
  });

  it('a Parquet file of matches rewritten between the plan and the batches fails the job SOURCE_CHANGED', async () => {
    const file = join(suite.dir, 'matches.parquet');
    writeMatchParquet(file, 2000, { codec: 'SNAPPY', rowGroupRows: 500 });

    const message = await runImportLocally(
      { ...input(file, 'matches'), kind: 'matches' },
      {
        observe: (handler) => {
          // The same rows, compressed otherwise: another version of the file.
          if (handler === 'plan-matches') writeMatchParquet(file, 2000, { codec: 'GZIP', rowGroupRows: 500 });
        },
      },
    );

    assert.equal(message.status, 'FAILED');
    assert.equal((await failureOf(message)).failure_code, 'SOURCE_CHANGED');
  });

  it('a job planned again (jobs resume) keeps its first pin', async () => {
    const file = join(suite.dir, 'resumed.csv');
    await writeFile(file, nodesCsv('old'));
    const job = input(file, 'resumed');
    const deps = await runtimeDeps();
    await planImport(deps, job);
    await writeFile(file, `${nodesCsv('new')}p-99999,new\n`);

    await assert.rejects(planImport(deps, job), { name: 'SourceChangedError', code: 'SOURCE_CHANGED' });
  });

  it('an unchanged source loads as before', async () => {
    const file = join(suite.dir, 'unchanged.csv');
    await writeFile(file, nodesCsv('same'));

    const message = await runImportLocally(input(file, 'unchanged'));

    assert.deepEqual([message.status, message.processed], ['COMPLETED', ROWS]);
  });
});
