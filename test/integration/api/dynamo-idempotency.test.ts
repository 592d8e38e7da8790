import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dynamoIdempotencyStore } from '../../../lib/aws/api-idempotency.ts';
import {
  DYNALITE_CREDENTIALS,
  DYNALITE_REGION,
  startDynalite,
  type TestDynamo,
} from '../../support/dynalite.ts';

const DOMAIN = '8a4f5e6d-7c8b-4d9e-8f0a-1b2c3d4e5f60';

describe('API idempotency keys in DynamoDB (Powertools, dynalite)', () => {
  let dynamo: TestDynamo;
  before(async () => {
    dynamo = await startDynalite('api-idempotency');
  });
  after(async () => {
    await dynamo.close();
  });

  const store = () =>
    dynamoIdempotencyStore({
      tableName: dynamo.tableName,
      ttlSeconds: 86400,
      region: DYNALITE_REGION,
      endpoint: dynamo.endpoint,
      credentials: DYNALITE_CREDENTIALS,
    });

  it('replays the same request, refuses another (422) and a twin in flight (409)', async () => {
    const keys = store();
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { status: 202, body: { job_id: `job-${runs}` } };
    };
    const first = await keys.once({ domainId: DOMAIN, key: 'k' }, 'a'.repeat(64), work);
    const repeat = await keys.once({ domainId: DOMAIN, key: 'k' }, 'a'.repeat(64), work);
    assert.deepEqual(first, { response: { status: 202, body: { job_id: 'job-1' } }, replayed: false });
    assert.deepEqual(repeat, { response: { status: 202, body: { job_id: 'job-1' } }, replayed: true });
    await assert.rejects(keys.once({ domainId: DOMAIN, key: 'k' }, 'b'.repeat(64), work), { status: 422 });

    let started: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = keys.once({ domainId: DOMAIN, key: 'twin' }, 'c'.repeat(64), async () => {
      started();
      await gate;
      return { status: 202, body: {} };
    });
    await inFlight;
    await assert.rejects(keys.once({ domainId: DOMAIN, key: 'twin' }, 'c'.repeat(64), work), { status: 409 });
    release();
    await slow;
    assert.equal(runs, 1);
  });
});
