import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { TRANSIENT_ERROR_NAMES } from '../../lib/errors.ts';
import { lambdaTask } from './lambda-task.ts';
import { pipelineStateMachine } from './pipeline-state-machine.ts';

/** State names of the import state machine: a contract with the local runner and the tests. */
export const IMPORT_STATE_NAMES = {
  plan: 'Plan',
  loadBatches: 'LoadBatches',
  loadBatch: 'LoadBatch',
  batchFailed: 'BatchFailed',
  finalize: 'Finalize',
  failJob: 'FailJob',
  jobFailed: 'JobFailed',
} as const;

/** Value of the `matchbridge:state-machine` metadata on the import state machine. */
export const IMPORT_STATE_MACHINE_NAME = 'import';

/** Errors of the Lambda service itself (not of our code) that are worth retrying; throttling has THROTTLE_RETRY. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
] as const;

/** The retry policy of every task: 3 attempts from 1 s, doubling, at most 10 s apart. */
export const TASK_RETRY: sfn.RetryProps = {
  errors: [...TRANSIENT_ERROR_NAMES, ...LAMBDA_SERVICE_ERRORS],
  maxAttempts: 3,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
};

/** Names of the states of an import workflow: a contract with the local runner and the tests. */
export interface ImportStateNames {
  readonly plan: string;
  readonly loadBatches: string;
  readonly loadBatch: string;
  readonly batchFailed: string;
  readonly finalize: string;
  readonly failJob: string;
  readonly jobFailed: string;
}

/** What tells one kind of import workflow from another; the shape and policies are the same for all. */
export interface ImportWorkflow {
  /** Value of the `matchbridge:state-machine` metadata; also names the log group. */
  readonly machineName: string;
  readonly names: ImportStateNames;
  /** Fields each batch gets from the state besides the job, `dbBatchRows` and the batch (JSONPath). */
  readonly batchFields: Readonly<Record<string, string>>;
  /** The environment variable through which a starter finds this state machine. */
  readonly arnVariable: string;
}

/** The node import: byte ranges of a CSV, each batch told the header the plan read. */
export const NODE_IMPORT_WORKFLOW: ImportWorkflow = {
  machineName: IMPORT_STATE_MACHINE_NAME,
  names: IMPORT_STATE_NAMES,
  batchFields: { header: '$.plan.header', referenceColumn: '$.plan.referenceColumn', pin: '$.plan.pin' },
  arnVariable: CONFIG_ENV.importStateMachineArn,
};

export interface ImportStateMachineProps {
  /** Claims the job and cuts the file into batches: returns `{ header, referenceColumn, total, batches, dbBatchRows, pin }`. */
  readonly plan: lambda.IFunction;
  /** Loads one batch (byte range) and returns its counts. */
  readonly loadBatch: lambda.IFunction;
  /** Aggregates the batch results, marks the job and publishes its status. */
  readonly finalize: lambda.IFunction;
  /** Marks the job FAILED with the caught error (input: the state with `$.error`). */
  readonly failJob: lambda.IFunction;
  /** Batches loading at once (Distributed Map MaxConcurrency). */
  readonly mapConcurrency: number;
  /** TimeoutSeconds of each LoadBatch task. */
  readonly loadBatchTimeout: Duration;
  /**
   * TimeoutSeconds of the Plan, Finalize and FailJob tasks, for a workflow whose ends do long work (an
   * erasure's finalize rewrites reports). Unset: none, and the function's own timeout bounds them on AWS.
   */
  readonly stepTimeout?: Duration;
  /** Longest a whole import may run. */
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * An import workflow, one STANDARD execution per job:
 * Plan → LoadBatches (Distributed Map of LoadBatch; a failed batch becomes a FAILED result, never a failed
 * Map) → Finalize; any failure of the job as a whole → FailJob → JobFailed. Each kind of import is one
 * {@link ImportWorkflow} (state names, what a batch is told); the shape and policies are shared.
 *
 * Written in JSONPath with only the features the local runner (aws-local-stepfunctions) supports:
 * the Map reads its items from the state (`ItemsPath`), with no ItemReader, ItemBatcher, ResultWriter or
 * tolerated-failure fields, so the same definition runs locally and on AWS.
 */
export class ImportStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  readonly #workflow: ImportWorkflow;

  constructor(
    scope: Construct,
    id: string,
    props: ImportStateMachineProps,
    workflow: ImportWorkflow = NODE_IMPORT_WORKFLOW,
  ) {
    super(scope, id);
    this.#workflow = workflow;
    const names = workflow.names;
    const stepTimeout = props.stepTimeout ? { taskTimeout: sfn.Timeout.duration(props.stepTimeout) } : {};
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      options: Partial<tasks.LambdaInvokeJsonPathProps> = {},
    ) => lambdaTask(this, name, fn, TASK_RETRY, options);
    const catchAll = { errors: [sfn.Errors.ALL], resultPath: '$.error' };
    // States.ALL does not catch a state whose output is over the 256 KiB limit: caught on its own.
    const catchDataLimit = { errors: ['States.DataLimitExceeded'], resultPath: '$.error' };

    const jobFailed = sfn.Fail.jsonPath(this, names.jobFailed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // DISCARD keeps `$.error` in the output for JobFailed to report.
    const failJob = invoke(names.failJob, props.failJob, {
      resultPath: sfn.JsonPath.DISCARD,
      ...stepTimeout,
    }).next(jobFailed);

    const plan = invoke(names.plan, props.plan, { resultPath: '$.plan', ...stepTimeout })
      .addCatch(failJob, catchDataLimit)
      .addCatch(failJob, catchAll);

    // A failed batch's result is small: its error name, never its cause (up to 32 KiB each, which 400
    // batches would carry past the state's 256 KiB). The cause is in the execution's log and the function's.
    const batchFailed = sfn.Pass.jsonPath(this, names.batchFailed, {
      parameters: {
        index: sfn.JsonPath.numberAt('$.batch.index'),
        status: 'FAILED',
        rows: 0,
        inserted: 0,
        updated: 0,
        duplicates: 0,
        failed: 0,
        error: sfn.JsonPath.stringAt('$.error.Error'),
      },
    });
    const loadBatch = invoke(names.loadBatch, props.loadBatch, {
      taskTimeout: sfn.Timeout.duration(props.loadBatchTimeout),
    }).addCatch(batchFailed, catchAll);

    const loadBatches = sfn.DistributedMap.jsonPath(this, names.loadBatches, {
      itemsPath: '$.plan.batches',
      maxConcurrency: props.mapConcurrency,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      itemSelector: {
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        kind: sfn.JsonPath.stringAt('$.kind'),
        domainId: sfn.JsonPath.stringAt('$.domainId'),
        groupId: sfn.JsonPath.stringAt('$.groupId'),
        ...Object.fromEntries(
          Object.entries(workflow.batchFields).map(([field, path]) => [field, sfn.JsonPath.stringAt(path)]),
        ),
        dbBatchRows: sfn.JsonPath.numberAt('$.plan.dbBatchRows'),
        dryRun: sfn.JsonPath.stringAt('$.plan.dryRun'),
        batch: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      resultPath: '$.results',
    })
      .itemProcessor(loadBatch)
      .addCatch(failJob, catchDataLimit)
      .addCatch(failJob, catchAll);

    const finalize = invoke(names.finalize, props.finalize, { resultPath: '$.status', ...stepTimeout })
      .addCatch(failJob, catchDataLimit)
      .addCatch(failJob, catchAll);

    this.stateMachine = pipelineStateMachine(this, {
      machineName: workflow.machineName,
      definition: plan.next(loadBatches).next(finalize),
      timeout: props.timeout,
      logRetention: props.logRetention,
    });
  }

  /** Lets a function start imports of this kind, and find the state machine through its variable. */
  bindStarter(fn: lambda.Function): void {
    this.stateMachine.grantStartExecution(fn);
    fn.addEnvironment(this.#workflow.arnVariable, this.stateMachine.stateMachineArn);
  }
}
