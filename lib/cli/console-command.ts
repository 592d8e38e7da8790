import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { consoleAsset } from '../api/console-assets.ts';
import { isLoopback, writeResponse } from '../api/server.ts';
import { regionOfApiUrl, sigv4Fetch, type UnsignedRequest } from '../aws/sigv4-fetch.ts';
import { loadConfig } from '../config.ts';
import { logger } from '../observability/logger.ts';
import { apiCommand } from './api-command.ts';
import { EXIT, parseCommandLine, UsageError } from './usage.ts';

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  api: { type: 'string' },
  region: { type: 'string' },
} as const;

/** The console sends small JSON requests only; a larger body is refused rather than buffered for signing. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Request headers the API reads; nothing else of the browser's (cookies, say) leaves this machine. */
const FORWARDED_REQUEST = ['accept', 'content-type', 'idempotency-key', 'last-event-id'];
const FORWARDED_RESPONSE = ['content-type', 'cache-control', 'retry-after'];

function reply(res: ServerResponse, status: number, code: string, message: string): Promise<void> {
  return writeResponse(res, { status, json: { code, message } });
}

async function bodyOf(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Whether a request may spend the operator's credentials: it names this server as its host (no DNS
 * rebinding) and, coming from a browser, comes from the console's own origin (no other site's page).
 */
function fromThisConsole(req: IncomingMessage, hosts: ReadonlySet<string>): boolean {
  const host = req.headers.host ?? '';
  if (!hosts.has(host)) return false;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  return req.headers.origin === undefined || req.headers.origin === `http://${host}`;
}

/** Forwards one `/v1/…` request to the deployed API, signed, and streams its answer back (SSE included). */
async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: URL,
  send: (request: UnsignedRequest) => Promise<Response>,
): Promise<void> {
  const body = await bodyOf(req);
  if (body === undefined)
    return reply(res, 413, 'PAYLOAD_TOO_LARGE', 'the console proxy takes bodies of 1 MiB at most');
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const response = await send({ url: target, method: req.method ?? 'GET', headers, body });
  const sent: Record<string, string> = {};
  for (const name of FORWARDED_RESPONSE) {
    const value = response.headers.get(name);
    if (value !== null) sent[name] = value;
  }
  res.writeHead(response.status, sent);
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res);
}

/**
 * Serves the console on `host:port` with its API requests forwarded to the REST API at `apiUrl`, signed
 * with the operator's AWS credentials: the page runs against AWS with nothing opened to anyone else.
 */
async function proxyConsole(options: {
  port: number;
  host: string;
  apiUrl: URL;
  region: string;
}): Promise<void> {
  const send = sigv4Fetch(options.region);
  const base = options.apiUrl.href.replace(/\/$/, '');
  // The names this server answers to: the address it listens on, and `localhost` for it.
  let hosts: ReadonlySet<string> = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const handle = async () => {
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(308, { location: '/console/' }).end();
        return;
      }
      const asset = req.method === 'GET' ? await consoleAsset(url.pathname) : undefined;
      if (asset) return writeResponse(res, asset);
      if (!url.pathname.startsWith('/v1/')) return reply(res, 404, 'NOT_FOUND', `no route ${url.pathname}`);
      if (!fromThisConsole(req, hosts)) {
        return reply(res, 403, 'FORBIDDEN', 'the console proxy answers its own page only');
      }
      return forward(req, res, new URL(`${base}${url.pathname}${url.search}`), send);
    };
    handle().catch((error: unknown) => {
      logger.error('console proxy request failed', { error: error as Error });
      if (!res.headersSent) reply(res, 502, 'BAD_GATEWAY', 'the API could not be reached');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const address = options.host.includes(':') ? `[${options.host}]` : options.host;
  hosts = new Set([`${address}:${port}`, `localhost:${port}`]);
  const origin = `http://${address}:${port}`;
  process.stdout.write(`console on ${origin}/console/ (API ${base}, signed for ${options.region})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * `console [--port 8080] [--host 127.0.0.1] [--api <url> [--region r]]`: the operations console. Without
 * `--api`, the local API with the console at /console/ (as `api`); with it, the console served here and its
 * requests forwarded to that deployed API, SigV4-signed (region from the URL, `--region` or AWS_REGION).
 * Listens on loopback only: whoever reaches it acts with the operator's credentials.
 */
export async function consoleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`console takes no arguments: ${positionals.join(' ')}`);
  const host = values.host ?? '127.0.0.1';
  if (values.api === undefined) {
    return apiCommand(['--host', host, ...(values.port ? ['--port', values.port] : [])], { console: true });
  }
  if (!isLoopback(host)) throw new UsageError('console --api listens on loopback only');
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0 to 65535');
  if (!URL.canParse(values.api) || !/^https?:$/.test(new URL(values.api).protocol)) {
    throw new UsageError('--api must be the http(s) URL of the REST API (with its stage)');
  }
  const apiUrl = new URL(values.api);
  const region = values.region ?? regionOfApiUrl(apiUrl) ?? loadConfig().awsRegion;
  await proxyConsole({ port, host, apiUrl, region });
  return EXIT.completed;
}
