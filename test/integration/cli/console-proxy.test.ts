import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, ROOT } from '../../support/cli.ts';

const ACCESS_KEY = 'AKIDCONSOLETEST00001';
const SECRET = 'a-secret-of-the-console-test';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/**
 * Checks a received request's Signature Version 4 the way AWS documents it (canonical request, string to
 * sign, derived key), written out here so the proxy's signing library is not its own judge. Plain paths
 * and query values only (no characters that need encoding).
 */
function validSignature(request: Seen): boolean {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
      String(request.headers.authorization),
    );
  if (!auth) return false;
  const [, scope = '', signedHeaders = '', signature = ''] = auth;
  const [date = '', region = '', service = ''] = scope.split('/');
  const url = new URL(request.url, 'http://api.invalid');
  const query = [...url.searchParams.entries()]
    .map(([name, value]) => `${name}=${value}`)
    .sort()
    .join('&');
  const headers = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
    .join('');
  const canonical = [request.method, url.pathname, query, headers, signedHeaders, sha256(request.body)].join(
    '\n',
  );
  const toSign = ['AWS4-HMAC-SHA256', String(request.headers['x-amz-date']), scope, sha256(canonical)].join(
    '\n',
  );
  const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('matchbridge console --api <url>: the console against a deployed API', () => {
  let api: Server;
  let child: ChildProcess;
  let consoleUrl: string;
  const seen: Seen[] = [];

  before(async () => {
    // A stand-in for the deployed REST API: records what reaches it, answers JSON, or an event stream.
    api = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        if (req.url?.endsWith('/events')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('event: progress\ndata: {"processed_count":1}\n\n');
          setTimeout(() => res.end('event: completed\ndata: {"processed_count":2}\n\n'), 50);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'x=1' });
        res.end(JSON.stringify({ jobs: [], next_cursor: null }));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/prod`;
    child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'matchbridge.js'),
        'console',
        '--api',
        apiUrl,
        '--port',
        '0',
        '--region',
        'eu-west-1',
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: ACCESS_KEY,
          AWS_SECRET_ACCESS_KEY: SECRET,
          AWS_SESSION_TOKEN: '',
          AWS_PROFILE: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    consoleUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /console on (http:\/\/[^\s]+)\/console\//.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`console exited with ${code}`)));
    });
  });
  after(async () => {
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => api.close(() => resolve()));
  });

  it('serves the page itself', async () => {
    const page = await fetch(`${consoleUrl}/console/`);
    const script = await fetch(`${consoleUrl}/console/app.js`);

    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /<main id="main"/);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`${consoleUrl}/console/../package.json`)).status, 404);
  });

  it('forwards API requests under the stage, signed with SigV4 for execute-api, without the browser’s cookies', async () => {
    const before = seen.length;
    const reply = await fetch(`${consoleUrl}/v1/jobs?kind=nodes&limit=5`, {
      headers: { cookie: 'session=secret' },
    });

    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), { jobs: [], next_cursor: null });
    assert.equal(reply.headers.get('set-cookie'), null);
    const request = seen[before];
    assert.equal(request?.url, '/prod/v1/jobs?kind=nodes&limit=5');
    assert.match(
      String(request?.headers.authorization),
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`,
      ),
    );
    assert.ok(request && validSignature(request));
    assert.equal(request?.headers.cookie, undefined);
  });

  it('forwards a POST body as sent', async () => {
    const before = seen.length;
    await fetch(`${consoleUrl}/v1/dead-letters/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"max":3}',
    });

    assert.deepEqual([seen[before]?.method, seen[before]?.body], ['POST', '{"max":3}']);
    assert.ok(seen[before] && validSignature(seen[before]));
  });

  it('streams an event stream through as it comes', async () => {
    const reply = await fetch(`${consoleUrl}/v1/imports/4b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/events`);

    assert.match(reply.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await reply.text();
    assert.deepEqual(
      [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]),
      ['progress', 'completed'],
    );
  });

  it('refuses requests from another site’s page or naming another host, which would act with the operator’s credentials', async () => {
    const before = seen.length;
    const crossSite = await fetch(`${consoleUrl}/v1/dead-letters/replay`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    });

    // A page of another site reaching the proxy through DNS rebinding names that site as the host (fetch
    // cannot set Host, node:http can).
    const rebound = await new Promise<number>((resolve, reject) => {
      const target = new URL(`${consoleUrl}/v1/jobs`);
      const request = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          headers: { host: 'attacker.example' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end();
    });

    assert.equal(crossSite.status, 403);
    assert.equal(rebound, 403);
    assert.equal(seen.length, before);
    // The same server named `localhost` is the same console.
    assert.equal((await fetch(`${consoleUrl.replace('127.0.0.1', 'localhost')}/v1/jobs`)).status, 200);
  });

  it('refuses a URL that is not http(s) and a host beyond loopback (exit 2)', async () => {
    const notHttp = await cli(['console', '--api', 'ftp://api.example/prod'], {});
    const exposed = await cli(['console', '--api', 'https://api.example/prod', '--host', '0.0.0.0'], {});

    assert.deepEqual([notHttp.code, exposed.code], [2, 2]);
    assert.match(exposed.stderr, /loopback/);
  });
});
