import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvocationType, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type pg from 'pg';
import type { ApiExportJob } from '../api/export-jobs.ts';
import { type ApiResponse, type Caller, dispatch, responseForError } from '../api/http.ts';
import type { ApiImportJob } from '../api/import-jobs.ts';
import type { ApiContext, JobLauncher } from '../api/routes/shared.ts';
import { ROUTES } from '../api/routes.ts';
import { query } from '../db/query.ts';
import { ApiRequestError } from '../errors.ts';

/** The event the API function sends itself to run an accepted job after its response. */
export type ApiJobEvent =
  | { readonly matchbridgeApiJob: 'import'; readonly job: ApiImportJob }
  | { readonly matchbridgeApiJob: 'export'; readonly job: ApiExportJob };

export function isApiJobEvent(event: unknown): event is ApiJobEvent {
  return typeof event === 'object' && event !== null && 'matchbridgeApiJob' in event;
}

/**
 * Runs accepted jobs on AWS: the API function invokes itself asynchronously (`Event`) with the job, so the
 * work outlives the response and is retried by Lambda's async invocation on a crash.
 */
export function selfInvokingLauncher(
  functionName: string,
  region: string,
): Omit<JobLauncher, 'launchErasure'> {
  const client = new LambdaClient({ region });
  const send = async (event: ApiJobEvent) => {
    await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: InvocationType.Event,
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
  };
  return {
    launchImport: (job) => send({ matchbridgeApiJob: 'import', job }),
    launchExport: (job) => send({ matchbridgeApiJob: 'export', job }),
  };
}

/** The role ARN behind an assumed-role session ARN (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`). */
export function roleArnOf(principal: string): string | undefined {
  const match = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principal);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : undefined;
}

/**
 * The caller of an IAM-authorised request: its principal (API Gateway's `userArn`) and the domain
 * `api_callers` maps it to — by the exact principal, or for an assumed-role session by its role.
 * An unmapped principal acts for no domain: 403. A caller marked `admin` is an operator.
 */
export async function callerOf(event: APIGatewayProxyEvent, pool: pg.Pool): Promise<Caller> {
  const principal = event.requestContext.identity.userArn;
  if (!principal) throw new ApiRequestError(403, 'FORBIDDEN', 'the request carries no IAM identity');
  const result = await query<{ domain_id: string; admin: boolean }>(
    pool,
    `SELECT domain_id, admin FROM api_callers WHERE principal = ANY($1::text[]) ORDER BY principal = $2 DESC LIMIT 1`,
    [[principal, roleArnOf(principal)].filter((p) => p !== undefined), principal],
  );
  const domainId = result.rows[0]?.domain_id;
  if (!domainId) throw new ApiRequestError(403, 'FORBIDDEN', 'the caller acts for no domain');
  return { principal, domainId, admin: result.rows[0]?.admin === true };
}

/** API Gateway's proxy event as the handlers' request. */
export function requestOf(event: APIGatewayProxyEvent, caller: Caller) {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const query = new URLSearchParams();
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    for (const value of values ?? []) query.append(name, value);
  }
  const body = event.body
    ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  return {
    method: event.httpMethod,
    path: event.path,
    query,
    headers,
    body: Readable.from([body]),
    caller,
    baseUrl: `https://${headers.host ?? 'localhost'}/${event.requestContext.stage}`,
  };
}

/** What `awslambda.HttpResponseStream.from` does: a stream that first carries the status and headers. */
export type ResponseStreamWrapper = (
  stream: Writable,
  metadata: { statusCode: number; headers: Record<string, string> },
) => Writable;

/** Writes a response to Lambda's response stream in API Gateway's streaming format. */
export async function writeStreamed(
  stream: Writable,
  response: ApiResponse,
  wrap: ResponseStreamWrapper,
): Promise<void> {
  const body =
    'json' in response ? Readable.from([JSON.stringify(response.json)]) : Readable.from(response.stream);
  const headers = {
    ...('json' in response ? { 'content-type': 'application/json' } : {}),
    ...response.headers,
  };
  await pipeline(body, wrap(stream, { statusCode: response.status, headers }));
}

/** Serves one API Gateway request (IAM-authorised) onto Lambda's response stream. */
export async function serveApiGatewayEvent(
  event: APIGatewayProxyEvent,
  stream: Writable,
  context: ApiContext,
  wrap: ResponseStreamWrapper,
): Promise<void> {
  let response: ApiResponse;
  try {
    response = await dispatch(ROUTES, requestOf(event, await callerOf(event, context.deps.pool)), context);
  } catch (error) {
    response = responseForError(error);
  }
  await writeStreamed(stream, response, wrap);
}
