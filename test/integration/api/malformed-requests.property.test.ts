import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import openapi from '../../../lib/api/openapi.json' with { type: 'json' };
import { type ApiServer, startApiServer } from '../../../lib/api/server.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { testDatabase } from '../../support/database.ts';
import { responseProblems } from '../../support/openapi.ts';

interface Parameter {
  readonly name: string;
  readonly in: string;
}
type Operations = Record<string, Record<string, { parameters?: Parameter[]; requestBody?: unknown }>>;

const OPERATIONS = Object.entries(openapi.paths as unknown as Operations).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({
    method: method.toUpperCase(),
    path,
    parameters: operation.parameters ?? [],
    hasBody: operation.requestBody !== undefined,
  })),
);

/** Text as a URL carries it: percent-encoded, with broken escapes mixed in (issue 21: `%E0%A4%A` gave 500). */
const urlText = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
      fc.constantFrom('%E0%A4%A', '%', '%zz', '%C0%AF', '%FF', '%00', '%2F', '..', '%E2%82'),
    ),
    { maxLength: 4 },
  )
  .map((parts) => parts.join(''));

/** Something wrong for sure: a broken escape, or a value no parameter takes (a UUID is a valid one). */
const brokenEscape = fc.constantFrom('%E0%A4%A', '%', '%zz', '%FF%FE', '%E2%82');

const operation = fc.constantFrom(...OPERATIONS).chain((op) =>
  fc.record({
    op: fc.constant(op),
    // Each declared query parameter absent, or any text.
    query: fc.tuple(
      ...op.parameters
        .filter((p) => p.in === 'query')
        .map((p) =>
          fc.option(
            urlText.map((value) => `${p.name}=${value}`),
            { nil: undefined },
          ),
        ),
    ),
    // `.` and `..` are dot segments: the client resolves them away before the request is sent.
    pathValue: fc.oneof(
      urlText.filter((value) => !/^(\.|%2e){1,2}$/i.test(value)),
      fc.uuid(),
    ),
    // What makes the request malformed for certain.
    flaw: fc.oneof(
      fc.record({
        kind: fc.constant('unknown parameter' as const),
        name: fc.stringMatching(/^x_[a-z]{1,8}$/),
        value: urlText,
      }),
      fc.record({ kind: fc.constant('broken path' as const), value: brokenEscape }),
      fc.record({ kind: fc.constant('broken body' as const), body: fc.string({ maxLength: 50 }) }),
    ),
    contentType: fc.constantFrom(
      'application/json',
      'text/csv',
      'application/x-ndjson',
      'multipart/form-data',
      'text/plain',
    ),
  }),
);

describe('malformed requests of every operation (property, issue 21)', () => {
  let dir: string;
  let server: ApiServer;
  let drain: () => Promise<void>;
  let closeDb: () => Promise<void>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-malformed-'));
    const db = await testDatabase('api_malformed');
    closeDb = db.close;
    initLocalConfig({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: join(dir, 'home') });
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
  });
  after(async () => {
    await server.close();
    await drain();
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers each with a 4xx {code, message} that the document declares, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(operation, async ({ op, query, pathValue, flaw, contentType }) => {
        const templated = op.path.includes('{');
        // A flaw the operation cannot have (no path parameter, no body) becomes an unknown parameter.
        const kind =
          (flaw.kind === 'broken path' && !templated) || (flaw.kind === 'broken body' && !op.hasBody)
            ? 'unknown parameter'
            : flaw.kind;
        const path = op.path.replace(
          /\{[^}]+\}/,
          kind === 'broken path' && 'value' in flaw ? String(flaw.value) : pathValue,
        );
        const params = query.filter((q): q is string => q !== undefined);
        if (kind === 'unknown parameter') params.push(`x_unknown=${'value' in flaw ? flaw.value : ''}`);
        const body =
          op.method === 'GET' ? undefined : kind === 'broken body' && 'body' in flaw ? `{${flaw.body}` : '{}';
        const response = await fetch(
          `${server.url}${path}${params.length > 0 ? `?${params.join('&')}` : ''}`,
          {
            method: op.method,
            headers: { 'idempotency-key': 'malformed', 'content-type': contentType },
            ...(body !== undefined ? { body } : {}),
          },
        );
        const type = response.headers.get('content-type') ?? '';
        const text = await response.text();
        const label = `${op.method} ${path}?${params.join('&')} → ${response.status} ${text.slice(0, 200)}`;
        assert.ok(response.status >= 400 && response.status < 500, label);
        const json = JSON.parse(text) as { code?: unknown; message?: unknown };
        assert.equal(typeof json.code, 'string', label);
        assert.equal(typeof json.message, 'string', label);
        const rawPath = new URL(`${server.url}${path}`).pathname;
        assert.deepEqual(responseProblems(op.method, rawPath, response.status, type, json), [], label);
      }),
      { numRuns: 300 },
    );
  });

  it('regression: a broken escape in the job id is 400, not 500', async () => {
    const response = await fetch(`${server.url}/v1/imports/%E0%A4%A`);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'INVALID_PATH');
  });
});
