import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../../support/api-client.ts';
import { DOMAIN, GROUP, type LocalApi, startLocalApi } from '../../support/local-api.ts';

const QUERY = `resource_type=users&domain_id=${DOMAIN}&group_id=${GROUP}`;

describe('the import paths of each body form (issue 23)', () => {
  let api: LocalApi;
  let call: ReturnType<typeof apiClient>;
  let key = 0;
  const nextKey = () => {
    key += 1;
    return `forms-${key}`;
  };

  before(async () => {
    api = await startLocalApi('api_forms');
    call = apiClient(api.url);
  });
  after(() => api.close());

  // Polls as a client would; the bound only stops a hung job.
  const settled = async (jobId: string) => {
    for (let i = 0; i < 1200; i += 1) {
      const reply = await call('GET', `/v1/imports/${jobId}`);
      if (reply.json.status !== 'pending' && reply.json.status !== 'processing') return reply.json;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${jobId} did not finish`);
  };

  it('takes each form only on its own path (415 naming what the path takes), every form on /v1/imports', async () => {
    const json = JSON.stringify({
      resource_type: 'users',
      format: 'csv',
      domain_id: DOMAIN,
      group_id: GROUP,
    });
    const onMultipart = await call('POST', '/v1/imports/multipart', {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/json' },
      body: json,
    });
    assert.equal(onMultipart.status, 415);
    assert.equal(onMultipart.json.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(String(onMultipart.json.message), /multipart\/form-data/);

    const onRaw = await call('POST', `/v1/imports/raw?${QUERY}&format=csv`, {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/json' },
      body: json,
    });
    assert.equal(onRaw.status, 415);

    const form = new FormData();
    for (const [name, value] of Object.entries(JSON.parse(json) as Record<string, string>))
      form.set(name, value);
    form.set('file', new Blob(['username\nola\n']), 'users.csv');
    const legacy = await call('POST', '/v1/imports', {
      headers: { 'idempotency-key': nextKey() },
      body: form,
    });
    assert.equal(legacy.status, 202);
    assert.equal((await settled(legacy.json.job_id as string)).success_count, 1);
  });

  it('reads a text/plain or octet-stream body as the format the query names, and needs that format', async () => {
    const unnamed = await call('POST', `/v1/imports/raw?${QUERY}`, {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'text/plain' },
      body: 'username\npia\n',
    });
    assert.equal(unnamed.status, 400);
    assert.match(String(unnamed.json.message), /^format: /);

    const asText = await call('POST', `/v1/imports/raw?${QUERY}&format=ndjson`, {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'text/plain' },
      body: '{"username":"quinn"}\n{"username":"rosa"}\n',
    });
    assert.equal(asText.status, 202);
    const job = await settled(asText.json.job_id as string);
    assert.deepEqual([job.status, job.success_count], ['completed', 2]);

    const asBytes = await call('POST', `/v1/imports/raw?${QUERY}&format=csv`, {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/octet-stream' },
      body: new TextEncoder().encode('username\nsam\n'),
    });
    assert.equal(asBytes.status, 202);
    assert.equal((await settled(asBytes.json.job_id as string)).success_count, 1);
  });

  it('routes a fixed path before a template that also matches it: GET /v1/imports/raw is 405, not a job', async () => {
    const response = await fetch(`${api.url}/v1/imports/raw`);
    assert.equal(response.status, 405);
    assert.equal(((await response.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
  });
});
