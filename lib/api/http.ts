import type { Readable } from 'node:stream';
import { ApiRequestError, isTransient, MatchbridgeError } from '../errors.ts';
import { logger } from '../observability/logger.ts';

/** Who is calling: the authenticated principal and the one domain it acts for (undefined: local, trusted). */
export interface Caller {
  readonly principal: string;
  readonly domainId?: string;
  /** An operator (`api_callers.admin`): sees every domain's jobs and the dead letters. */
  readonly admin?: boolean;
}

/** An HTTP request as the handlers see it, whether it came through node:http or API Gateway. */
export interface ApiRequest {
  readonly method: string;
  /** The path without its query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body, read at most once. */
  readonly body: Readable;
  readonly caller: Caller;
  /** Scheme, host and stage of the API as the caller reached it, for links back to it. */
  readonly baseUrl: string;
}

/** A response: a JSON document, or a body streamed chunk by chunk. */
export type ApiResponse =
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly json: unknown }
  | {
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly stream: AsyncIterable<string | Buffer>;
    };

/** A route of the API: what `openapi.json` documents under `paths`. */
export interface Route<C> {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** OpenAPI path template, e.g. `/v1/imports/{job_id}`. */
  readonly path: string;
  /** The query parameters it takes: any other is refused with 400 `UNKNOWN_PARAMETER`. */
  readonly query: readonly string[];
  readonly handle: (
    request: ApiRequest,
    params: Readonly<Record<string, string>>,
    context: C,
  ) => Promise<ApiResponse>;
}

/** `{code, message}` with the given status. */
export function errorResponse(status: number, code: string, message: string): ApiResponse {
  return { status, json: { code, message } };
}

/** The raw (still percent-encoded) path parameters of `path` when it matches `template`. */
function matchPath(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const actual = got[i] ?? '';
    if (part.startsWith('{') && part.endsWith('}')) {
      if (actual === '') return undefined;
      params[part.slice(1, -1)] = actual;
    } else if (part !== actual) {
      return undefined;
    }
  }
  return params;
}

/** Decodes path parameters and checks the query's names: the parts of a request no handler parses. */
function checkedParams<C>(
  route: Route<C>,
  request: ApiRequest,
  raw: Record<string, string>,
): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      throw new ApiRequestError(400, 'INVALID_PATH', `${name}: not a valid percent-encoded value`);
    }
  }
  for (const name of new Set(request.query.keys())) {
    if (!route.query.includes(name)) {
      throw new ApiRequestError(400, 'UNKNOWN_PARAMETER', `unknown query parameter: ${name.slice(0, 100)}`);
    }
  }
  return params;
}

/**
 * Maps an error to its response. Only an exposed error's message reaches the caller: API refusals with their
 * status, other exposed domain errors as 400 (503 when transient). Any other error is logged and answered with
 * its code (`INTERNAL_ERROR` when it has none) and a generic message: 503 when a retry may pass, else 500.
 */
export function responseForError(error: unknown): ApiResponse {
  if (error instanceof ApiRequestError) return errorResponse(error.status, error.code, error.message);
  const transient = isTransient(error);
  if (error instanceof MatchbridgeError && error.expose) {
    return errorResponse(transient ? 503 : 400, error.code, error.message);
  }
  logger.error('request failed', { error: error as Error });
  const code = error instanceof MatchbridgeError ? error.code : 'INTERNAL_ERROR';
  return transient
    ? errorResponse(503, code, 'a dependency is unavailable; retry later')
    : errorResponse(500, code, 'internal error');
}

/**
 * Routes a request to its handler. Unknown paths get 404 `NOT_FOUND`, a known path with another method 405
 * `METHOD_NOT_ALLOWED`; errors become `{code, message}` responses (see {@link responseForError}).
 */
export async function dispatch<C>(
  routes: readonly Route<C>[],
  request: ApiRequest,
  context: C,
): Promise<ApiResponse> {
  // A path without templated parts wins over a template it also matches (`/v1/imports/raw` over
  // `/v1/imports/{job_id}`), as OpenAPI orders them.
  const matching = routes.flatMap((route) => {
    const raw = matchPath(route.path, request.path);
    return raw ? [{ route, raw, templated: Object.keys(raw).length }] : [];
  });
  const fewest = Math.min(...matching.map((m) => m.templated));
  const pathKnown = matching.length > 0;
  for (const { route, raw } of matching.filter((m) => m.templated === fewest)) {
    if (route.method !== request.method) continue;
    let response: ApiResponse;
    try {
      response = await route.handle(request, checkedParams(route, request, raw), context);
    } catch (error) {
      response = responseForError(error);
    }
    logger.info('API request', {
      method: request.method,
      route: route.path,
      status: response.status,
      principal: request.caller.principal,
      ...(request.caller.domainId ? { domainId: request.caller.domainId } : {}),
    });
    return response;
  }
  return pathKnown
    ? errorResponse(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${request.path}`)
    : errorResponse(404, 'NOT_FOUND', `no route ${request.path}`);
}
