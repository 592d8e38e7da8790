import { type CfnResource, type Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { METADATA_KEYS } from '../metadata.ts';
import { TASK_RETRY } from './import-state-machine.ts';

/** State names of the match import state machine: a contract with the local runner and the tests. */
export const MATCH_IMPORT_STATE_NAMES = {
  plan: 'PlanMatches',
  loadBatches: 'LoadMatchBatches',
  loadBatch: 'LoadMatchBatch',
  batchFailed: 'MatchBatchFailed',
  finalize: 'Finalize',
  failJob: 'FailJob',
  jobFailed: 'JobFailed',
} as const;

/** Value of the `matchbridge:state-machine` metadata on the match import state machine. */
export const MATCH_IMPORT_STATE_MACHINE_NAME = 'match-import';

export interface MatchImportStateMachineProps {
  /** Claims the job and plans the Parquet file from its footer: returns `{ columns, total, batches, dbBatchRows }`. */
  readonly plan: lambda.IFunction;
  /** Loads one batch (whole row groups, read by their byte ranges) and returns its counts. */
  readonly loadBatch: lambda.IFunction;
  /** Aggregates the batch results, marks the job and publishes its status (shared with node imports). */
  readonly finalize: lambda.IFunction;
  /** Marks the job FAILED with the caught error (shared with node imports). */
  readonly failJob: lambda.IFunction;
  /** Batches loading at once (Distributed Map MaxConcurrency). */
  readonly mapConcurrency: number;
  /** TimeoutSeconds of each LoadMatchBatch task. */
  readonly loadBatchTimeout: Duration;
  /** Longest a whole import may run. */
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The match import workflow, one STANDARD execution per job:
 * PlanMatches → LoadMatchBatches (Distributed Map of LoadMatchBatch; a failed batch becomes a FAILED result,
 * never a failed Map) → Finalize; any failure of the job as a whole → FailJob → JobFailed. Same Retry and
 * Catch policy as the node import, and the same local-runner constraints (items from the state, no
 * ItemReader/ResultWriter).
 *
 * A machine of its own rather than a `$.kind` Choice inside the node import machine: the two plans and batch
 * items have different shapes (byte ranges with a header vs. row groups with columns), so a shared machine
 * would need a Choice before every kind-specific state and a Map per kind anyway; separate machines keep
 * each definition linear, let the Parquet functions have their own memory and timeout, and show each kind's
 * executions, failures and alarms apart. Finalize and FailJob are shared: they dispatch on `kind`.
 */
export class MatchImportStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: MatchImportStateMachineProps) {
    super(scope, id);
    const names = MATCH_IMPORT_STATE_NAMES;
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      options: Partial<tasks.LambdaInvokeJsonPathProps> = {},
    ) =>
      tasks.LambdaInvoke.jsonPath(this, name, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        ...options,
      }).addRetry(TASK_RETRY);
    const catchAll = { errors: [sfn.Errors.ALL], resultPath: '$.error' };

    const jobFailed = sfn.Fail.jsonPath(this, names.jobFailed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
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
        uri: sfn.JsonPath.stringAt('$.source.uri'),
        columns: sfn.JsonPath.listAt('$.plan.columns'),
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
          logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${MATCH_IMPORT_STATE_MACHINE_NAME}`,
          retention: props.logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    (this.stateMachine.node.defaultChild as CfnResource).addMetadata(
      METADATA_KEYS.stateMachine,
      MATCH_IMPORT_STATE_MACHINE_NAME,
    );
  }

  /** Lets a function start match imports, and find the state machine through MATCH_IMPORT_STATE_MACHINE_ARN. */
  bindStarter(fn: lambda.Function): void {
    this.stateMachine.grantStartExecution(fn);
    fn.addEnvironment(CONFIG_ENV.matchImportStateMachineArn, this.stateMachine.stateMachineArn);
  }
}
