import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { dispatch } from '../../../lib/api/http.ts';
import type { ApiContext } from '../../../lib/api/routes/shared.ts';
import { ROUTES } from '../../../lib/api/routes.ts';
import { sqsDeadLetterAdmin } from '../../../lib/runtime/dead-letter-admin.ts';
import { type ElasticMq, startElasticMq } from '../../support/elasticmq/elasticmq.ts';
import { responseProblems } from '../../support/openapi.ts';

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('dead letters on AWS: the SQS queue’s depth, and a replay handed to dlq-replay', () => {
  let sqs: ElasticMq;
  let lambdaApi: Server;
  let context: ApiContext;
  const invocations: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];

  before(async () => {
    sqs = await startElasticMq();
    const queueUrl = await sqs.createQueue('ingest-dead-letters');
    for (const offset of [1, 2, 3]) {
      await sqs.client.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ offset }) }),
      );
    }
    // One letter received and not deleted: a replay in progress.
    await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 300 }),
    );
    // A stand-in for Lambda's Invoke API.
    lambdaApi = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        invocations.push({
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(202, { 'content-type': 'application/json' }).end('');
      });
    });
    await new Promise<void>((resolve) => lambdaApi.listen(0, '127.0.0.1', resolve));
    const deadLetters = sqsDeadLetterAdmin(
      { ingestDlqUrl: queueUrl, dlqReplayFunction: 'mb-dlq-replay', awsRegion: 'us-east-1' },
      {
        sqs: sqs.client,
        lambda: new LambdaClient({
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${(lambdaApi.address() as AddressInfo).port}`,
          credentials: CREDENTIALS,
        }),
      },
    );
    assert.ok(deadLetters);
    // The dead-letter routes read nothing else of the context.
    context = { deadLetters } as unknown as ApiContext;
  });
  after(async () => {
    await sqs?.stop();
    await new Promise<void>((resolve) => lambdaApi.close(() => resolve()));
  });

  const call = async (method: string, path: string, admin = true) => {
    const response = await dispatch(
      ROUTES,
      {
        method,
        path,
        query: new URLSearchParams(),
        headers: {},
        body: Readable.from([]),
        caller: { principal: 'arn:aws:iam::123456789012:role/operator', domainId: 'd', admin },
        baseUrl: 'https://api.example',
      },
      context,
    );
    assert.ok('json' in response);
    assert.deepEqual(responseProblems(method, path, response.status, 'application/json', response.json), []);
    return { status: response.status, json: response.json as Record<string, unknown> };
  };

  it('shows the depth and says why the letters are not listed', async () => {
    const reply = await call('GET', '/v1/dead-letters');

    assert.equal(reply.status, 200);
    assert.equal(reply.json.browsable, false);
    assert.deepEqual(reply.json.letters, []);
    assert.deepEqual(reply.json.approximate_depth, { waiting: 2, in_flight: 1 });
    assert.match(String(reply.json.note), /cannot be browsed/);
  });

  it('replays all pending letters by invoking the dlq-replay function asynchronously', async () => {
    const reply = await call('POST', '/v1/dead-letters/replay');

    assert.equal(reply.status, 202);
    assert.equal(reply.json.invoked, 'mb-dlq-replay');
    assert.equal(invocations.length, 1);
    assert.match(invocations[0]?.url ?? '', /\/functions\/mb-dlq-replay\/invocations/);
    assert.equal(invocations[0]?.headers['x-amz-invocation-type'], 'Event');
    assert.deepEqual(JSON.parse(invocations[0]?.body ?? ''), { max: 1000 });
  });

  it('has no single letters to show or replay, and none for a caller who is not an operator', async () => {
    assert.equal((await call('POST', '/v1/dead-letters/some-id/replay')).status, 404);
    assert.equal((await call('GET', '/v1/dead-letters/some-id')).status, 404);
    assert.equal((await call('GET', '/v1/dead-letters', false)).status, 403);
  });
});
