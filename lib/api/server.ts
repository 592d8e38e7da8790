import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigurationError } from '../errors.ts';
import { logger } from '../observability/logger.ts';
import { consoleAsset } from './console-assets.ts';
import { type ApiRequest, type ApiResponse, type Caller, dispatch } from './http.ts';
import type { ApiContext } from './routes/shared.ts';
import { ROUTES } from './routes.ts';

/**
 * The header that names the caller's domain on the local server, standing in for the IAM identity API
 * Gateway gives on AWS. It is believed only from a caller holding the server's token; without it a local
 * request is trusted for the domain it names.
 */
export const LOCAL_DOMAIN_HEADER = 'x-matchbridge-domain';

/** Whether `host` is a loopback address or name: only this machine can reach a server listening there. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  return isIPv6(bare) && (bare === '::1' || /^::ffff:127\./i.test(bare));
}

/**
 * Why a server on `host` must not start, if it must not: a local server trusts the domain a request names,
 * so only a loopback one may go without a token.
 */
export function exposureProblem(host: string, token: string | undefined): string | undefined {
  return token === undefined && !isLoopback(host)
    ? `refusing to listen on ${host} without API_TOKEN: anyone who reaches it could act for any domain`
    : undefined;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Digests of equal length are compared in
 * constant time, so the comparison tells nothing about the token by how long it takes.
 */
function authorized(headers: Readonly<Record<string, string | undefined>>, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(headers.authorization?.trim() ?? '');
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}

/**
 * Who calls: with a token, the domain its header names; without a domain (loopback only, or a token holder
 * naming none), the machine's operator, who sees every domain as an admin does on AWS.
 */
function callerOf(headers: Readonly<Record<string, string | undefined>>, token: string | undefined): Caller {
  const domain = token === undefined ? undefined : headers[LOCAL_DOMAIN_HEADER];
  return domain ? { principal: `local:${domain}`, domainId: domain } : { principal: 'local', admin: true };
}

function headersOf(request: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Writes a response; a stream that fails midway ends the connection, so the client sees it cut. */
export async function writeResponse(res: ServerResponse, response: ApiResponse): Promise<void> {
  if ('json' in response) {
    const body = JSON.stringify(response.json);
    res.writeHead(response.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...response.headers,
    });
    res.end(body);
    return;
  }
  res.writeHead(response.status, response.headers);
  try {
    await pipeline(Readable.from(response.stream), res);
  } catch (error) {
    if (!res.destroyed) res.destroy(error as Error);
    if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      logger.error('streamed response failed', { error: error as Error });
    }
  }
}

function requestOf(
  req: IncomingMessage,
  headers: Record<string, string | undefined>,
  host: string,
  caller: Caller,
): ApiRequest {
  // A Host header that is not a host would make the URL unparseable: the listening host stands in for it.
  const base = URL.canParse(`http://${headers.host}`) ? `http://${headers.host}` : `http://${host}`;
  const url = URL.canParse(req.url ?? '/', base) ? new URL(req.url ?? '/', base) : new URL('/', base);
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers,
    body: req,
    caller,
    baseUrl: url.origin,
  };
}

/**
 * Whether a request comes from a page of this server, or from no page at all (curl, a client library). A
 * browser names the page's origin on every POST; a simple one (no custom header, like a replay) needs no
 * preflight, so without this check any site open on this machine could make the local API act.
 */
function sameOrigin(headers: Readonly<Record<string, string | undefined>>): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  return headers.origin === undefined || headers.origin === `http://${headers.host}`;
}

/**
 * The console's static files (public: the page holds no data, the API calls it makes are authorised as
 * any other), then the token check, then the API's routes.
 */
async function answerFor(
  request: ApiRequest,
  headers: Record<string, string | undefined>,
  token: string | undefined,
  context: ApiContext,
): Promise<ApiResponse> {
  if (request.method === 'GET') {
    const asset = await consoleAsset(request.path);
    if (asset) return asset;
  }
  if (request.method !== 'GET' && !sameOrigin(headers)) {
    return {
      status: 403,
      json: { code: 'FORBIDDEN', message: 'requests from another site’s page are not accepted' },
    };
  }
  if (token !== undefined && !authorized(headers, token)) {
    return {
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
      json: { code: 'UNAUTHORIZED', message: 'send Authorization: Bearer <the API token>' },
    };
  }
  return dispatch(ROUTES, request, context);
}

/** A running local API server. */
export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the API's routes over node:http on `host:port` (port 0: any free port; host: loopback by default).
 * With a `token`, a request without `Authorization: Bearer <token>` gets 401 `UNAUTHORIZED`.
 *
 * @throws ConfigurationError on a non-loopback host without a token (see {@link exposureProblem}).
 */
export async function startApiServer(
  context: ApiContext,
  options: { readonly port: number; readonly host?: string; readonly token?: string },
): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  const { token } = options;
  const problem = exposureProblem(host, token);
  if (problem) throw new ConfigurationError(problem);
  const server = createServer((req, res) => {
    const headers = headersOf(req);
    const request = requestOf(req, headers, host, callerOf(headers, token));
    const answer: Promise<ApiResponse> = answerFor(request, headers, token, context);
    answer
      .then((response) => {
        // A refused request may leave its body unread; drain it so the connection can answer.
        if (!req.complete) req.resume();
        return writeResponse(res, response);
      })
      .catch((error: unknown) => {
        logger.error('request failed', { error: error as Error });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'INTERNAL_ERROR', message: 'internal error' }));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
