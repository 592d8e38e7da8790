import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** One function of the template, as the assembly suite runs it. */
export interface FunctionSpec {
  /** The function's physical name (the stand-in of what CloudFormation would name it). */
  readonly name: string;
  /** The `matchbridge:handler` metadata: which folder of `functions/` it was bundled from. */
  readonly handlerName: string;
  /** `Handler` of the template, e.g. `index.handler`. */
  readonly handler: string;
  /** The bundled asset folder in the cloud assembly. */
  readonly assetDir: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** The template's variables, every reference resolved to its stand-in. */
  readonly environment: Readonly<Record<string, string>>;
}

/** What the Lambda service adds to every function's environment (region, credentials, endpoints). */
export interface ServiceEnvironment {
  readonly region: string;
  /** Variables every function process gets besides its own: credentials, AWS_ENDPOINT_URL_*, CA bundle. */
  readonly variables: Readonly<Record<string, string>>;
}

/** One invocation as the service saw it. */
export interface InvocationRecord {
  readonly functionName: string;
  readonly handlerName: string;
  readonly event: unknown;
  /** Set when the invocation failed: the errorType Lambda reports (the thrown error's `name`). */
  readonly errorType?: string;
  readonly errorMessage?: string;
}

/** A failed invocation, as Step Functions and Lambda's callers see it: `name` is the errorType. */
export class LambdaInvocationError extends Error {
  constructor(errorType: string, message: string) {
    super(message);
    this.name = errorType;
  }
}

/** The outcome of a successful invocation: its JSON payload, or what a streaming handler wrote. */
export interface InvocationResult {
  readonly payload: unknown;
  readonly streamed: Buffer;
}

interface Environment {
  readonly child: ChildProcess;
}

// The node binary of this process: the project's Node 24, as the template's runtime (nodejs24.x).
const NODE = process.execPath;
const BOOTSTRAP = join(import.meta.dirname, 'lambda-bootstrap.mjs');
/**
 * The heap a function's memory allows: the old space a share of it, the young generation's semi-spaces small,
 * so that the whole heap stays under the memory and leaves room for code and buffers.
 */
const OLD_SPACE_SHARE = 0.75;
const SEMI_SPACE_MIB = 16;

/**
 * A stand-in of the Lambda service for the functions of a cloud assembly. Each function runs its **bundled
 * asset** in processes of its own, reused between invocations like warm execution environments (one
 * invocation at a time each; a busy function gets another process), with only its template's environment,
 * its timeout (the context's remaining time counts down from it; past it the process is killed) and a heap
 * limit from its memory. Node's permission model gives each process what Lambda gives a function: its code
 * folder read-only, a private writable TMPDIR, nothing of the project's sources or node_modules.
 */
export class LambdaService {
  readonly invocations: InvocationRecord[] = [];
  readonly #functions = new Map<string, FunctionSpec>();
  readonly #idle = new Map<string, Environment[]>();
  readonly #all = new Set<ChildProcess>();
  readonly #service: ServiceEnvironment;
  readonly #root: Promise<string>;
  /** Called before each invocation; a test uses it to inject a fault at a given moment. */
  beforeInvoke: ((fn: FunctionSpec, event: unknown) => Promise<void> | void) | undefined;
  /** Called after each invocation with its record (e.g. to end an injected fault once it has shown). */
  afterInvoke: ((fn: FunctionSpec, record: InvocationRecord) => void) | undefined;

  constructor(functions: readonly FunctionSpec[], service: ServiceEnvironment) {
    for (const fn of functions) this.#functions.set(fn.name, fn);
    this.#service = service;
    this.#root = mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'mb-lambda-'));
  }

  /** The function bundled from `functions/<handlerName>/`. */
  byHandler(handlerName: string): FunctionSpec {
    const found = [...this.#functions.values()].filter((fn) => fn.handlerName === handlerName);
    if (found.length !== 1 || found[0] === undefined) {
      throw new Error(`expected one function bundled from functions/${handlerName}, found ${found.length}`);
    }
    return found[0];
  }

  byName(name: string): FunctionSpec {
    const fn = this.#functions.get(name);
    if (!fn) throw new Error(`no function named ${name} in the assembly`);
    return fn;
  }

  /** Invokes a function synchronously (RequestResponse); rejects with {@link LambdaInvocationError}. */
  async invoke(name: string, event: unknown): Promise<InvocationResult> {
    const fn = this.byName(name);
    // Events cross a JSON boundary on AWS.
    const payload: unknown = JSON.parse(JSON.stringify(event ?? null));
    await this.beforeInvoke?.(fn, payload);
    const environment = this.#idle.get(name)?.pop() ?? (await this.#start(fn));
    try {
      const result = await this.#run(fn, environment, payload);
      this.#record(fn, { functionName: name, handlerName: fn.handlerName, event: payload });
      this.#release(name, environment);
      return result;
    } catch (error) {
      const failure = error instanceof LambdaInvocationError ? error : toInvocationError(error);
      this.#record(fn, {
        functionName: name,
        handlerName: fn.handlerName,
        event: payload,
        errorType: failure.name,
        errorMessage: failure.message,
      });
      // A process killed at its timeout or gone is not reused; one that reported an error is, as on Lambda.
      if (environment.child.connected) this.#release(name, environment);
      throw failure;
    }
  }

  /** Stops every function process and removes their folders. */
  async close(): Promise<void> {
    for (const child of this.#all) child.kill('SIGKILL');
    this.#all.clear();
    this.#idle.clear();
    await rm(await this.#root, { recursive: true, force: true });
  }

  /** Returns a process to the function's warm pool. */
  #release(name: string, environment: Environment): void {
    const idle = this.#idle.get(name) ?? [];
    idle.push(environment);
    this.#idle.set(name, idle);
  }

  #record(fn: FunctionSpec, record: InvocationRecord): void {
    this.invocations.push(record);
    this.afterInvoke?.(fn, record);
  }

  async #start(fn: FunctionSpec): Promise<Environment> {
    const root = await this.#root;
    const id = randomUUID();
    const taskRoot = join(root, fn.name, id, 'task');
    const tmp = join(root, fn.name, id, 'tmp');
    await mkdir(tmp, { recursive: true });
    await cp(fn.assetDir, taskRoot, { recursive: true });
    const execArgv = [
      '--permission',
      `--allow-fs-read=${taskRoot}`,
      `--allow-fs-read=${BOOTSTRAP}`,
      `--allow-fs-read=${tmp}`,
      `--allow-fs-write=${tmp}`,
      `--max-old-space-size=${Math.floor(fn.memoryMiB * OLD_SPACE_SHARE)}`,
      `--max-semi-space-size=${SEMI_SPACE_MIB}`,
    ];
    const child = fork(BOOTSTRAP, [], {
      execPath: NODE,
      execArgv,
      cwd: taskRoot,
      env: {
        ...fn.environment,
        ...this.#service.variables,
        PATH: '/usr/local/bin:/usr/bin:/bin',
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        TMPDIR: tmp,
        HOME: tmp,
        AWS_CONFIG_FILE: join(tmp, 'aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'aws-credentials'),
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: fn.handler,
        AWS_REGION: this.#service.region,
        AWS_DEFAULT_REGION: this.#service.region,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
        AWS_LAMBDA_LOG_STREAM_NAME: id,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#all.add(child);
    child.once('exit', () => this.#all.delete(child));
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
      if (process.env.ASSEMBLY_LOGS === 'true') process.stderr.write(`[${fn.handlerName}] ${chunk}`);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: { type?: string; errorType?: string; errorMessage?: string }) => {
        if (message.type === 'ready') {
          child.off('message', onMessage);
          resolve();
        } else if (message.type === 'init-error') {
          child.off('message', onMessage);
          reject(new LambdaInvocationError(message.errorType ?? 'Error', message.errorMessage ?? ''));
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) =>
        reject(
          new LambdaInvocationError(
            'Runtime.ExitError',
            `${fn.name} exited with ${code} during init:\n${output.join('').slice(-4000)}`,
          ),
        ),
      );
    });
    await ready;
    return { child };
  }

  #run(fn: FunctionSpec, environment: Environment, event: unknown): Promise<InvocationResult> {
    const { child } = environment;
    const id = randomUUID();
    const deadlineMs = Date.now() + fn.timeoutSeconds * 1000;
    const chunks: Buffer[] = [];
    return new Promise<InvocationResult>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (message: {
        type?: string;
        id?: string;
        payload?: string | null;
        data?: string;
        errorType?: string;
        errorMessage?: string;
      }) => {
        if (message.id !== id) return;
        if (message.type === 'chunk' && message.data !== undefined) {
          chunks.push(Buffer.from(message.data, 'base64'));
        } else if (message.type === 'result') {
          finish();
          const payload: unknown =
            message.payload === null || message.payload === undefined ? null : JSON.parse(message.payload);
          resolve({ payload, streamed: Buffer.concat(chunks) });
        } else if (message.type === 'error') {
          finish();
          reject(new LambdaInvocationError(message.errorType ?? 'Error', message.errorMessage ?? ''));
        }
      };
      const onExit = (code: number | null) => {
        finish();
        reject(new LambdaInvocationError('Runtime.ExitError', `${fn.name} exited with ${code}`));
      };
      // Lambda stops the environment at the timeout; the caller sees Sandbox.Timedout.
      const timer = setTimeout(() => {
        finish();
        child.kill('SIGKILL');
        reject(
          new LambdaInvocationError('Sandbox.Timedout', `${fn.name} timed out after ${fn.timeoutSeconds} s`),
        );
      }, fn.timeoutSeconds * 1000);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'invoke', id, event, deadlineMs });
    });
  }
}

function toInvocationError(error: unknown): LambdaInvocationError {
  const e = error as { name?: string; message?: string };
  return new LambdaInvocationError(e.name ?? 'Error', e.message ?? String(error));
}
