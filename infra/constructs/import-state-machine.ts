import { type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { TRANSIENT_ERROR_NAMES } from '../../lib/errors.ts';
import { METADATA_KEYS } from '../metadata.ts';

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

/** Errors of the Lambda service itself (not of our code) that are worth retrying. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** The retry policy of every task: 3 attempts from 1 s, doubling, at most 10 s apart. */
export const TASK_RETRY: sfn.RetryProps = {
  errors: [...TRANSIENT_ERROR_NAMES, ...LAMBDA_SERVICE_ERRORS],
  maxAttempts: 3,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
};

export interface ImportStateMachineProps {
  /** Claims the job and cuts the file into batches: returns `{ header, referenceColumn, total, batches, dbBatchRows }`. */
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
  /** Longest a whole import may run. */
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The import workflow, one STANDARD execution per job:
 * Plan → LoadBatches (Distributed Map of LoadBatch; a failed batch becomes a FAILED result, never a failed
 * Map) → Finalize; any failure of the job as a whole → FailJob → JobFailed.
 *
 * Written in JSONPath with only the features the local runner (aws-local-stepfunctions) supports:
 * the Map reads its items from the state (`ItemsPath`), with no ItemReader, ItemBatcher, ResultWriter or
 * tolerated-failure fields, so the same definition runs locally and on AWS.
 */
export class ImportStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ImportStateMachineProps) {
    super(scope, id);
    const names = IMPORT_STATE_NAMES;
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      options: Partial<tasks.LambdaInvokeJsonPathProps> = {},
    ) =>
      tasks.LambdaInvoke.jsonPath(this, name, {
        lambdaFunction: fn,
        // The Task's Resource is the function ARN itself, and its result the handler's return value.
        payloadResponseOnly: true,
        // TASK_RETRY covers the Lambda service errors; CDK's own default retry would add a second policy.
        retryOnServiceExceptions: false,
        ...options,
      }).addRetry(TASK_RETRY);
    const catchAll = { errors: [sfn.Errors.ALL], resultPath: '$.error' };

    const jobFailed = sfn.Fail.jsonPath(this, names.jobFailed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // DISCARD keeps `$.error` in the output for JobFailed to report.
    const failJob = invoke(names.failJob, props.failJob, { resultPath: sfn.JsonPath.DISCARD }).next(
      jobFailed,
    );

    const plan = invoke(names.plan, props.plan, { resultPath: '$.plan' }).addCatch(failJob, catchAll);

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
        cause: sfn.JsonPath.stringAt('$.error.Cause'),
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
        header: sfn.JsonPath.listAt('$.plan.header'),
        referenceColumn: sfn.JsonPath.numberAt('$.plan.referenceColumn'),
        dbBatchRows: sfn.JsonPath.numberAt('$.plan.dbBatchRows'),
        batch: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      resultPath: '$.results',
    })
      .itemProcessor(loadBatch)
      .addCatch(failJob, catchAll);

    const finalize = invoke(names.finalize, props.finalize, { resultPath: '$.status' }).addCatch(
      failJob,
      catchAll,
    );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(plan.next(loadBatches).next(finalize)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout,
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'Logs', {
          // The vended-logs prefix keeps Step Functions from growing the account's CloudWatch Logs
          // resource policy with one statement per log group.
          logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${IMPORT_STATE_MACHINE_NAME}`,
          retention: props.logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    (this.stateMachine.node.defaultChild as CfnResource).addMetadata(
      METADATA_KEYS.stateMachine,
      IMPORT_STATE_MACHINE_NAME,
    );
  }

  /** Lets a function start imports, and find the state machine through IMPORT_STATE_MACHINE_ARN. */
  bindStarter(fn: lambda.Function): void {
    this.stateMachine.grantStartExecution(fn);
    fn.addEnvironment(CONFIG_ENV.importStateMachineArn, this.stateMachine.stateMachineArn);
  }
}
