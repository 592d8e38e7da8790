import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { logger } from '../observability/logger.ts';
import { type ApiResponse, type Caller, dispatch } from './http.ts';
import { type ApiContext, ROUTES } from './routes.ts';

/**
 * The header that names the caller's domain on the local server, standing in for the IAM identity API
 * Gateway gives on AWS. Without it a local request is trusted for the domain it names.
 */
export const LOCAL_DOMAIN_HEADER = 'x-matchbridge-domain';

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

/** A running local API server. */
export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the API's routes over node:http on `host:port` (port 0: any free port). */
export async function startApiServer(
  context: ApiContext,
  options: { readonly port: number; readonly host?: string },
): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const headers = headersOf(req);
    const url = new URL(req.url ?? '/', `http://${headers.host ?? host}`);
    const domain = headers[LOCAL_DOMAIN_HEADER];
    const caller: Caller = domain
      ? { principal: `local:${domain}`, domainId: domain }
      : { principal: 'local' };
    dispatch(
      ROUTES,
      {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: req,
        caller,
        baseUrl: url.origin,
      },
      context,
    )
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
