import { randomUUID } from 'node:crypto';
import type { Assembly } from './assembly.ts';
import { ACCOUNT } from './stand-in-names.ts';

/** A request to the REST API, as a caller signed it (the IAM principal API Gateway authenticated). */
export interface ApiRequest {
  readonly method: string;
  /** The path below the stage, e.g. `/v1/imports`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly principal: string;
}

/** The response API Gateway returns from a streaming integration. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const PRELUDE_DELIMITER = Buffer.alloc(8);

/**
 * API Gateway's part: finds the template's method for the request (`/v1/{proxy+}` ANY), checks that its
 * integration streams the response of a function of the assembly, builds the REST proxy event and invokes
 * that function, then splits the stream into the prelude (status and headers) and the body.
 */
export async function callRestApi(assembly: Assembly, request: ApiRequest): Promise<ApiResponse> {
  const [method] = assembly.names
    .resources('AWS::ApiGateway::Method')
    .filter(({ resource }) => ['ANY', request.method].includes(String(resource.Properties?.HttpMethod)));
  if (!method) throw new Error(`the template has no API method for ${request.method}`);
  const integration = method.resource.Properties?.Integration as {
    Uri?: unknown;
    ResponseTransferMode?: string;
  };
  const uri = assembly.names.resolve(method.stackName, integration.Uri);
  const fn = /functions\/arn:aws:lambda:[^:]+:\d+:function:([^/]+)\/response-streaming-invocations$/.exec(
    uri,
  )?.[1];
  if (!fn || integration.ResponseTransferMode !== 'STREAM') {
    throw new Error(`the API method does not stream a function's response: ${uri}`);
  }
  const stage = assembly.names.resources('AWS::ApiGateway::Stage')[0]?.resource.Properties?.StageName;
  const headers = { host: 'api.example.test', ...request.headers };
  const query = request.query ?? {};
  const event = {
    resource: '/v1/{proxy+}',
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters:
      Object.keys(query).length > 0
        ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]))
        : null,
    pathParameters: { proxy: request.path.replace(/^\/v1\//, '') },
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'assembly',
      stage: String(stage),
      requestId: randomUUID(),
      httpMethod: request.method,
      path: `/${String(stage)}${request.path}`,
      resourcePath: '/v1/{proxy+}',
      protocol: 'HTTP/1.1',
      requestTimeEpoch: Date.now(),
      identity: {
        userArn: request.principal,
        caller: request.principal,
        accountId: ACCOUNT,
        accessKey: 'ASIAASSEMBLYCALLER',
        sourceIp: '127.0.0.1',
        userAgent: 'assembly-suite',
      },
    },
    body: request.body ?? null,
    isBase64Encoded: false,
  };
  const { streamed } = await assembly.lambda.invoke(fn, event);
  const split = streamed.indexOf(PRELUDE_DELIMITER);
  if (split < 0) throw new Error(`the function streamed no prelude: ${streamed.toString().slice(0, 200)}`);
  const prelude = JSON.parse(streamed.subarray(0, split).toString()) as {
    statusCode: number;
    headers?: Record<string, string>;
  };
  return {
    status: prelude.statusCode,
    headers: prelude.headers ?? {},
    body: streamed.subarray(split + PRELUDE_DELIMITER.length).toString(),
  };
}
