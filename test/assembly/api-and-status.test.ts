import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mskEvent, mskRecord } from '../support/msk-events.ts';
import { callRestApi } from './support/api-gateway.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';
import { AwsApiError } from './support/aws-api-stand-in.ts';

describe('the assembly: the bulk API and status delivery through the bundled functions', {
  timeout: 900_000,
}, () => {
  let assembly: Assembly;
  const domain = randomUUID();
  const principal = `arn:aws:iam::000000000000:role/producer-${domain.slice(0, 8)}`;
  before(async () => {
    assembly = await startAssembly();
    await assembly.pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'assembly')`, [domain]);
    await assembly.pool.query(`INSERT INTO api_callers (principal, domain_id) VALUES ($1, $2)`, [
      principal,
      domain,
    ]);
  });
  after(async () => {
    await assembly?.close();
  });

  it('accepts a CSV import through API Gateway, runs it by invoking itself, and streams the nodes back', async () => {
    const accepted = await callRestApi(assembly, {
      method: 'POST',
      path: '/v1/imports',
      query: { resource_type: 'nodes', format: 'csv', domain_id: domain, group_id: 'api-group' },
      headers: { 'content-type': 'text/csv', 'idempotency-key': 'assembly-1' },
      body: 'reference_id,tier\na1,gold\na2,silver\n',
      principal,
    });
    assert.equal(accepted.status, 202, accepted.body);
    const { job_id: jobId } = JSON.parse(accepted.body) as { job_id: string };
    await assembly.settled();

    const status = await callRestApi(assembly, { method: 'GET', path: `/v1/imports/${jobId}`, principal });
    const body = JSON.parse(status.body) as { status: string; success_count: number; fail_count: number };
    assert.equal(status.status, 200, status.body);
    assert.deepEqual([body.status, body.success_count, body.fail_count], ['completed', 2, 0]);
    const exported = await callRestApi(assembly, {
      method: 'GET',
      path: '/v1/exports',
      query: { resource_type: 'nodes', format: 'ndjson', domain_id: domain, group_id: 'api-group' },
      principal,
    });
    assert.equal(exported.status, 200, exported.body);
    const rows = exported.body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { reference_id: string });
    assert.deepEqual(rows.map((row) => row.reference_id).sort(), ['a1', 'a2']);
  });

  it('refuses a caller the template authenticates but no domain knows, without running anything', async () => {
    const response = await callRestApi(assembly, {
      method: 'GET',
      path: '/v1/exports',
      query: { resource_type: 'nodes', format: 'ndjson', domain_id: domain },
      principal: 'arn:aws:iam::000000000000:role/stranger',
    });

    assert.equal(response.status, 403);
    assert.equal((JSON.parse(response.body) as { code: string }).code, 'FORBIDDEN');
  });

  it('dead-letters a status message EventBridge refuses into the status queue, and the job still completes', async () => {
    const statusDomain = randomUUID();
    assembly.eventBridgeFailure = new AwsApiError('InternalException', 'EventBridge is down', 500);
    try {
      await assembly.lambda.invoke(
        assembly.lambda.byHandler('ingest').name,
        mskEvent([
          mskRecord(JSON.stringify({ domainId: statusDomain, groupId: 's', referenceIds: ['x1', 'x2'] }), {
            topic: 'matchbridge-users',
            offset: 900,
          }),
        ]),
      );
      await assembly.settled();
    } finally {
      assembly.eventBridgeFailure = undefined;
    }

    const { rows } = await assembly.pool.query(`SELECT id, status FROM import_jobs WHERE domain_id = $1`, [
      statusDomain,
    ]);
    assert.equal(rows[0]?.status, 'COMPLETED');
    const { Messages = [] } = await assembly.sqs.client.send(
      new ReceiveMessageCommand({
        QueueUrl: assembly.queueUrl('StatusPublishingDeadLetters'),
        MaxNumberOfMessages: 10,
      }),
    );
    const letters = Messages.map((m) => JSON.parse(m.Body ?? '{}') as { message?: { jobId?: string } });
    const letter = letters.find((l) => l.message?.jobId === rows[0]?.id);
    assert.ok(
      letter,
      `the status message of job ${rows[0]?.id} is in the status queue: ${JSON.stringify(letters)}`,
    );
    const events = await assembly.pool.query(
      `SELECT topic, delivery_status FROM job_status_events WHERE job_id = $1 ORDER BY topic`,
      [rows[0]?.id],
    );
    assert.ok(
      events.rows.some((e) => String(e.topic).startsWith('eventbridge:') && e.delivery_status === 'FAILED'),
      JSON.stringify(events.rows),
    );
  });
});
