import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An AWS API error as the JSON protocols carry it (`__type`), with its HTTP status. */
export class AwsApiError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
  }
}

/** What the stand-in does for each operation the functions call. */
export interface AwsApiOperations {
  /** Step Functions `StartExecution`; throws `ExecutionAlreadyExists` for a name already used. */
  startExecution(request: { stateMachineArn: string; name: string; input: string }): {
    executionArn: string;
  };
  /** EventBridge `PutEvents`. */
  putEvents(entries: readonly Record<string, unknown>[]): void;
  /** Lambda `Invoke`: `Event` (asynchronous) or `RequestResponse`. */
  invoke(functionName: string, invocationType: string, payload: unknown): Promise<unknown>;
  /** Secrets Manager `GetSecretValue`: the secret's string; throws `ResourceNotFoundException` for another. */
  getSecretValue(secretId: string): string;
}

/**
 * The AWS APIs the functions call that have no off-the-shelf stand-in here — Step Functions, EventBridge,
 * Lambda and Secrets Manager — served on 127.0.0.1 in their wire protocols (AWS JSON 1.0/1.1, Lambda's REST), so
 * the functions' own SDK clients reach them through `AWS_ENDPOINT_URL_SFN`, `…_EVENTBRIDGE`, `…_LAMBDA` and
 * `…_SECRETS_MANAGER`.
 */
export class AwsApiStandIn {
  /** The operations, also for callers inside AWS (the scheduler starts executions without the API). */
  readonly operations: AwsApiOperations;
  #server: Server | undefined;
  endpoint = '';

  constructor(operations: AwsApiOperations) {
    this.operations = operations;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        const failure =
          error instanceof AwsApiError ? error : new AwsApiError('InternalFailure', String(error), 500);
        respond(response, failure.status, { __type: failure.type, message: failure.message });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.close(() => resolve());
      this.#server?.closeAllConnections();
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = request.headers['x-amz-target'];
    const invocation = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
    if (target === 'AWSStepFunctions.StartExecution') {
      const input = JSON.parse(body) as { stateMachineArn: string; name: string; input: string };
      const { executionArn } = this.operations.startExecution(input);
      respond(response, 200, { executionArn, startDate: Date.now() / 1000 });
    } else if (target === 'AWSEvents.PutEvents') {
      const { Entries } = JSON.parse(body) as { Entries: Record<string, unknown>[] };
      this.operations.putEvents(Entries);
      respond(response, 200, {
        FailedEntryCount: 0,
        Entries: Entries.map((_entry, i) => ({ EventId: `event-${Date.now()}-${i}` })),
      });
    } else if (target === 'secretsmanager.GetSecretValue') {
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      const secretString = this.operations.getSecretValue(SecretId);
      respond(response, 200, { ARN: SecretId, Name: SecretId, SecretString: secretString });
    } else if (invocation?.[1] !== undefined) {
      const name = decodeURIComponent(invocation[1]);
      const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
      const result = await this.operations.invoke(name, type, body === '' ? null : JSON.parse(body));
      if (type === 'Event') {
        response.writeHead(202).end();
      } else {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      }
    } else {
      throw new AwsApiError('UnknownOperationException', `no stand-in for ${target ?? request.url}`);
    }
  }
}

function respond(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
}
