import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type pg from 'pg';
import { postgresIdempotencyStore } from '../../../lib/api/idempotency.ts';
import type { ApiImportJob } from '../../../lib/api/import-jobs.ts';
import type { ApiContext } from '../../../lib/api/routes/shared.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { roleArnOf, serveApiGatewayEvent } from '../../../lib/runtime/api-gateway.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { testDatabase } from '../../support/database.ts';
import { responseProblems } from '../../support/openapi.ts';

const DOMAIN = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const OTHER = '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60';
const ROLE = 'arn:aws:iam::123456789012:role/partner-importer';
const SESSION = 'arn:aws:sts::123456789012:assumed-role/partner-importer/session-1';
const OPERATOR = 'arn:aws:iam::123456789012:role/operator';

function event(
  method: string,
  path: string,
  init: Partial<APIGatewayProxyEvent> = {},
  userArn: string | null = SESSION,
) {
  return {
    httpMethod: method,
    path,
    headers: { Host: 'abc.execute-api.eu-west-1.amazonaws.com', ...init.headers },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: init.multiValueQueryStringParameters ?? null,
    pathParameters: null,
    stageVariables: null,
    body: init.body ?? null,
    isBase64Encoded: init.isBase64Encoded ?? false,
    resource: '/v1/{proxy+}',
    requestContext: { stage: 'api', identity: { userArn } },
  } as unknown as APIGatewayProxyEvent;
}

describe('the api function behind API Gateway (IAM identity → domain, streamed response format)', () => {
  let dir: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let context: ApiContext;
  const launched: ApiImportJob[] = [];
  let launchFails = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-gw-'));
    const db = await testDatabase('api_gateway');
    pool = db.pool;
    closeDb = db.close;
    initLocalConfig({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home') });
    await pool.query('INSERT INTO api_callers (principal, domain_id) VALUES ($1, $2)', [ROLE, DOMAIN]);
    const deps = await runtimeDeps();
    context = {
      deps,
      idempotency: postgresIdempotencyStore(pool, { ttlSeconds: 60 }),
      launcher: {
        launchImport: async (job) => {
          if (launchFails) throw new Error('Lambda is throttling');
          launched.push(job);
        },
        launchExport: async () => undefined,
        launchErasure: async () => undefined,
      },
    };
  });
  after(async () => {
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  const serve = async (e: APIGatewayProxyEvent) => {
    const out = new PassThrough();
    let metadata: { statusCode: number; headers: Record<string, string> } | undefined;
    const wrap = (stream: Writable, m: { statusCode: number; headers: Record<string, string> }) => {
      metadata = m;
      return stream;
    };
    const [, body] = await Promise.all([serveApiGatewayEvent(e, out, context, wrap), text(out)]);
    assert.ok(metadata);
    const contentType = metadata.headers['content-type'] ?? '';
    const json = contentType.startsWith('application/json') ? JSON.parse(body) : {};
    assert.deepEqual(responseProblems(e.httpMethod, e.path, metadata.statusCode, contentType, json), []);
    return { status: metadata.statusCode, json, body };
  };

  it('maps an assumed-role session to its role', () => {
    assert.equal(roleArnOf(SESSION), ROLE);
    assert.equal(roleArnOf(ROLE), undefined);
  });

  it('serves a mapped caller and refuses an unmapped one (403)', async () => {
    assert.equal((await serve(event('GET', '/v1/openapi.json'))).status, 200);
    const stranger = await serve(
      event('GET', '/v1/openapi.json', {}, 'arn:aws:iam::123456789012:user/someone'),
    );
    assert.equal(stranger.status, 403);
    assert.equal(stranger.json.code, 'FORBIDDEN');
  });

  it('accepts a base64 CSV body for the caller domain only, with a link back through the stage', async () => {
    const query = (domain: string) => ({
      resource_type: ['users'],
      format: ['csv'],
      domain_id: [domain],
      group_id: ['g'],
    });
    const body = Buffer.from('username\nann\n').toString('base64');
    const headers = { 'Content-Type': 'text/csv', 'Idempotency-Key': 'gw-1' };
    const accepted = await serve(
      event('POST', '/v1/imports', {
        headers,
        body,
        isBase64Encoded: true,
        multiValueQueryStringParameters: query(DOMAIN),
      }),
    );
    assert.equal(accepted.status, 202);
    assert.equal(launched.at(-1)?.jobId, accepted.json.job_id);
    assert.equal(launched.at(-1)?.domainId, DOMAIN);
    const foreign = await serve(
      event('POST', '/v1/imports', {
        headers,
        body,
        isBase64Encoded: true,
        multiValueQueryStringParameters: query(OTHER),
      }),
    );
    assert.equal(foreign.status, 403);
  });

  it('fails a job it could not start rather than leaving it pending, and frees the key for a retry', async () => {
    const body = Buffer.from('username\nbea\n').toString('base64');
    const request = event('POST', '/v1/imports', {
      headers: { 'Content-Type': 'text/csv', 'Idempotency-Key': 'gw-launch' },
      body,
      isBase64Encoded: true,
      multiValueQueryStringParameters: {
        resource_type: ['users'],
        format: ['csv'],
        domain_id: [DOMAIN],
        group_id: ['g'],
      },
    });
    launchFails = true;
    const refused = await serve(request);
    launchFails = false;
    assert.equal(refused.status, 500);
    const stuck = await pool.query(
      `SELECT status FROM import_jobs WHERE domain_id = $1 AND status = 'PENDING'`,
      [DOMAIN],
    );
    assert.equal(stuck.rowCount, 1, 'only the job of the earlier test, never started by its fake launcher');
    const failed = await pool.query(
      `SELECT failure_reason FROM import_jobs WHERE domain_id = $1 AND status = 'FAILED'`,
      [DOMAIN],
    );
    assert.match(failed.rows[0]?.failure_reason ?? '', /could not be started/);
    const retried = await serve(request);
    assert.equal(retried.status, 202);
  });

  it('lets an admin caller see every domain’s jobs and the dead letters; a domain caller sees its own jobs', async () => {
    await pool.query('INSERT INTO api_callers (principal, domain_id, admin) VALUES ($1, $2, true)', [
      OPERATOR,
      DOMAIN,
    ]);
    const foreign = '3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b';
    await pool.query(
      `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin)
       VALUES ($1, 'nodes', $2, 'g', 'COMPLETED', 'cli', 'cli')`,
      [foreign, OTHER],
    );
    const domains = (reply: { json: Record<string, unknown> }) =>
      new Set((reply.json.jobs as Array<{ domain_id: string }>).map((job) => job.domain_id));

    const own = await serve(event('GET', '/v1/jobs'));
    const all = await serve(event('GET', '/v1/jobs', {}, OPERATOR));

    assert.deepEqual(domains(own), new Set([DOMAIN]));
    assert.deepEqual(domains(all), new Set([DOMAIN, OTHER]));
    assert.equal((await serve(event('GET', `/v1/imports/${foreign}`, {}, OPERATOR))).status, 200);
    assert.equal((await serve(event('GET', `/v1/imports/${foreign}`))).status, 403);
    assert.equal((await serve(event('GET', '/v1/dead-letters'))).status, 403);
    // This context has no queue configured: the operator is let through, to find none.
    assert.equal(
      (await serve(event('GET', '/v1/dead-letters', {}, OPERATOR))).json.code,
      'DEAD_LETTERS_UNAVAILABLE',
    );
  });
});
