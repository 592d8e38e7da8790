import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { config } from '../config.ts';

/** A Lambda handler as the local runner calls it. */
export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

/** A state machine from the synthesized template, with each Task state bound to a handler name. */
export interface SynthesizedMachine {
  readonly definition: StateMachineDefinition;
  readonly taskHandlers: Readonly<Record<string, string>>;
}

/** Observes handler calls, e.g. to show progress: called with the handler name, its input and its output. */
export type TaskObserver = (handler: string, input: unknown, output: unknown) => void;

const DEFAULT_TASK_TIMEOUT_SECONDS = 900;

async function importHandler(name: string): Promise<LocalHandler> {
  const module = (await import(new URL(`../../functions/${name}/handler.ts`, import.meta.url).href)) as {
    handler?: LocalHandler;
  };
  if (typeof module.handler !== 'function')
    throw new Error(`functions/${name}/handler.ts exports no handler`);
  return module.handler;
}

/** Finds `TimeoutSeconds` of a state anywhere in the definition (item processors of Map states too). */
function stateTimeout(definition: unknown, stateName: string): number | undefined {
  const states = (definition as { States?: Record<string, Record<string, unknown>> }).States ?? {};
  for (const [name, state] of Object.entries(states)) {
    if (name === stateName && typeof state.TimeoutSeconds === 'number') return state.TimeoutSeconds;
    const nested = state.ItemProcessor ?? state.Iterator;
    const found = nested ? stateTimeout(nested, stateName) : undefined;
    if (found !== undefined) return found;
  }
  return undefined;
}

function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

// Payloads cross a JSON boundary on AWS; doing the same here catches values that would not survive it.
const overJson = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** The outcome of a local execution: its output, or the error that failed it. */
export type LocalExecutionOutcome =
  | { readonly status: 'SUCCEEDED'; readonly output: unknown }
  | { readonly status: 'FAILED'; readonly error: string; readonly cause: string };

/** Runs one Task state's invocation: the state's name, the handler it is bound to, and the state's input. */
export type TaskInvoker = (stateName: string, handlerName: string, input: unknown) => Promise<unknown>;

/**
 * Runs a synthesized state machine definition with aws-local-stepfunctions, every Task state bound to a
 * handler going through `invokeTask` (local handlers in this process, or bundled functions in their own).
 */
export async function runSynthesizedMachine(
  machine: SynthesizedMachine,
  input: unknown,
  options: { executionName: string; executionArn: string; invokeTask: TaskInvoker },
): Promise<LocalExecutionOutcome> {
  const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [stateName, handlerName] of Object.entries(machine.taskHandlers)) {
    overrides[stateName] = (taskInput: unknown) => options.invokeTask(stateName, handlerName, taskInput);
  }
  const stateMachine = new StateMachine(machine.definition, {
    validationOptions: { checkArn: false, checkPaths: false },
  });
  const execution = stateMachine.run(overJson(input) as never, {
    overrides: { taskResourceLocalHandlers: overrides as never },
    context: {
      Execution: {
        Id: options.executionArn,
        Name: options.executionName,
        Input: input as never,
        StartTime: new Date().toISOString(),
      },
    } as never,
  });
  try {
    return { status: 'SUCCEEDED', output: await execution.result };
  } catch (error) {
    if (!(error instanceof ExecutionError)) throw error;
    const cause = (error as ExecutionError & { cause?: { name?: string; message?: string } }).cause;
    return { status: 'FAILED', error: cause?.name ?? error.name, cause: cause?.message ?? error.message };
  }
}

/**
 * Runs a synthesized state machine definition in-process, each Task state bound to its handler module under
 * `functions/` — the same definition `cdk synth` deploys. Each handler's context runs out after its state's
 * `TimeoutSeconds`, or `LOCAL_LAMBDA_TIMEOUT_SECONDS` when set.
 */
export async function runLocalExecution(
  machine: SynthesizedMachine,
  input: unknown,
  options: { executionName: string; observe?: TaskObserver },
): Promise<LocalExecutionOutcome> {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [stateName, handlerName] of Object.entries(machine.taskHandlers)) {
    const handler = await importHandler(handlerName);
    const timeout =
      config().localLambdaTimeoutSeconds ??
      stateTimeout(machine.definition, stateName) ??
      DEFAULT_TASK_TIMEOUT_SECONDS;
    handlers[stateName] = async (taskInput: unknown) => {
      const event = overJson(taskInput);
      const output = overJson(await handler(event, lambdaContext(handlerName, timeout)));
      options.observe?.(handlerName, event, output);
      return output;
    };
  }
  return runSynthesizedMachine(machine, input, {
    executionName: options.executionName,
    executionArn: `arn:aws:states:local:000000000000:execution:import:${options.executionName}`,
    invokeTask: (stateName, _handlerName, taskInput) => {
      const handler = handlers[stateName];
      if (!handler) throw new Error(`no handler bound to state ${stateName}`);
      return handler(taskInput);
    },
  });
}
