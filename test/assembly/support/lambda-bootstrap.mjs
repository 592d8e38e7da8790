// The Node.js Lambda runtime of the assembly suite: one process per execution environment, as on AWS. It
// loads the handler `_HANDLER` names from the bundled asset in LAMBDA_TASK_ROOT once (the cold start), then
// runs the invocations its parent sends over IPC one at a time, reporting errors as Lambda does: errorType
// is the thrown error's `name` — what a state machine's Retry and Catch match on.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const STREAMING = Symbol.for('matchbridge.assembly.streaming');
// API Gateway's streaming integration: a JSON prelude, eight NUL bytes, then the body.
const PRELUDE_DELIMITER = Buffer.alloc(8);

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream, metadata) {
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata)), PRELUDE_DELIMITER]));
      return stream;
    },
  },
};

const send = (message) => new Promise((resolve) => process.send(message, resolve));

const errorReport = (error) => ({
  errorType: typeof error?.name === 'string' && error.name !== '' ? error.name : 'Error',
  errorMessage: typeof error?.message === 'string' ? error.message : String(error),
});

const [moduleName, exportName] = (process.env._HANDLER ?? '').split('.');
let handler;
try {
  const module = await import(pathToFileURL(join(process.env.LAMBDA_TASK_ROOT, `${moduleName}.mjs`)).href);
  handler = module[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${moduleName}.${exportName} is not a function`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
} catch (error) {
  await send({ type: 'init-error', ...errorReport(error) });
  process.exit(1);
}

function contextFor(requestId, deadlineMs) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function invoke({ id, event, deadlineMs }) {
  const context = contextFor(id ?? randomUUID(), deadlineMs);
  if (handler[STREAMING]) {
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        process.send({ type: 'chunk', id, data: Buffer.from(chunk).toString('base64') }, callback);
      },
    });
    await handler(event, stream, context);
    if (!stream.writableFinished) {
      await new Promise((resolve) => {
        stream.once('finish', resolve);
        if (!stream.writableEnded) stream.end();
      });
    }
    return undefined;
  }
  return handler(event, context);
}

process.on('message', async (message) => {
  if (message?.type !== 'invoke') return;
  try {
    const result = await invoke(message);
    await send({
      type: 'result',
      id: message.id,
      payload: result === undefined ? null : JSON.stringify(result),
    });
  } catch (error) {
    await send({ type: 'error', id: message.id, ...errorReport(error) });
  }
});

// Lambda ends the environment on an error nobody awaited; the parent sees the exit and fails the invocation.
process.on('unhandledRejection', (error) => {
  console.error('Runtime.UnhandledPromiseRejection', error);
  process.exit(128);
});

await send({ type: 'ready' });
