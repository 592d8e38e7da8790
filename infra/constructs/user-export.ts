import { Duration, TimeZone } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import {
  DatabaseUnavailableError,
  DeadlineExceededError,
  StorageUnavailableError,
} from '../../lib/errors.ts';
import { USER_EXPORT_STATE_MACHINE_NAME } from '../../lib/export/types.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { LAMBDA_SERVICE_ERRORS } from './import-state-machine.ts';
import { grantKafkaWrite, type KafkaProducerProps } from './kafka-producer.ts';
import { lambdaTask } from './lambda-task.ts';
import { pipelineStateMachine } from './pipeline-state-machine.ts';

export { USER_EXPORT_STATE_MACHINE_NAME };

/** State names of the export state machine: a contract with the local runner and the tests. */
export const USER_EXPORT_STATE_NAMES = {
  plan: 'ListGroups',
  exportGroups: 'ExportGroups',
  exportGroup: 'ExportGroup',
  isSplit: 'IsGroupSplit',
  groupExported: 'GroupExported',
  exportRanges: 'ExportRanges',
  exportRange: 'ExportRange',
  finishGroup: 'FinishGroup',
  groupFailed: 'ExportGroupFailed',
  summarize: 'Summarize',
} as const;

/**
 * Retries of a group's export: the database and the object store, 3 attempts from 1 s, doubling, at most
 * 10 s apart. Kafka sends are retried where they are made (the file is not written again for them).
 */
const EXPORT_RETRY: sfn.RetryProps = {
  errors: [
    DatabaseUnavailableError.name,
    StorageUnavailableError.name,
    DeadlineExceededError.name,
    ...LAMBDA_SERVICE_ERRORS,
  ],
  maxAttempts: 3,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
};

export interface UserExportProps {
  /** Plans the run: `{runId, full, trigger, date, groups}`. */
  readonly plan: lambda.IFunction;
  /** Exports one group, or cuts it into key ranges; exports one range; finishes a group cut into ranges. */
  readonly exportGroup: lambda.IFunction;
  /** Records a group FAILED after its retries. */
  readonly groupFailed: lambda.IFunction;
  /** Totals the run. */
  readonly summarize: lambda.IFunction;
  /** Groups exported at once (Map MaxConcurrency), and ranges of one group written at once. */
  readonly mapConcurrency: number;
  /** EventBridge Scheduler expression, e.g. `cron(20 23 * * ? *)`. */
  readonly scheduleExpression: string;
  /** IANA time zone of the expression. */
  readonly timeZone: string;
  /** Whether the scheduled run exports everyone rather than the users changed since the last export. */
  readonly fullOnSchedule: boolean;
  /**
   * Whether the export can send its import requests (Kafka brokers are configured). Without them the schedule
   * is created disabled: every run would fail at export-group's cold start for want of KAFKA_BROKERS.
   */
  readonly canSend: boolean;
  /** TimeoutSeconds of each ExportGroup task. */
  readonly exportGroupTimeout: Duration;
  /** Longest a whole run may take. */
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/** How the export reaches Kafka (MSK, IAM auth) and the topics its requests may go to. */
export interface ExportKafkaProps extends KafkaProducerProps {
  /** Topic of groups that name none. */
  readonly defaultTopic: string;
}

/**
 * The daily user export: an EventBridge Scheduler schedule (in its time zone, with a dead-letter queue for
 * runs it could not start) → a STANDARD state machine: ListGroups → ExportGroups (Map over the groups,
 * MaxConcurrency configurable; a group that fails after its retries is recorded by ExportGroupFailed and the
 * others go on) → Summarize. In each group's iteration, ExportGroup either exports the group (its result is
 * the iteration's) or, for a group with more users than one function writes (EXPORT_ROWS_PER_FUNCTION),
 * returns key ranges: ExportRanges (a Map of ExportRange, one function per range, each writing its part of
 * the file) → FinishGroup (joins the parts, sends the one import request, records the run). JSONPath and
 * inline Maps only, so that the local runner runs the same definition.
 */
export class UserExport extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly schedule: scheduler.Schedule;
  /** Scheduled runs the scheduler could not start, after its retries (alarmed by {@link Monitoring.watch}). */
  readonly scheduleDeadLetters: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: UserExportProps) {
    super(scope, id);
    const names = USER_EXPORT_STATE_NAMES;
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      options: Partial<tasks.LambdaInvokeJsonPathProps> = {},
    ) => lambdaTask(this, name, fn, EXPORT_RETRY, options);

    const plan = invoke(names.plan, props.plan, {
      payload: sfn.TaskInput.fromObject({
        request: sfn.JsonPath.objectAt('$'),
        executionId: sfn.JsonPath.executionId,
        startTime: sfn.JsonPath.executionStartTime,
      }),
    });
    const groupFailed = invoke(names.groupFailed, props.groupFailed);
    const catchAll = { errors: [sfn.Errors.ALL], resultPath: '$.error' };
    const taskTimeout = sfn.Timeout.duration(props.exportGroupTimeout);
    const iteration = {
      runId: sfn.JsonPath.stringAt('$.runId'),
      full: sfn.JsonPath.objectAt('$.full'),
      trigger: sfn.JsonPath.stringAt('$.trigger'),
      date: sfn.JsonPath.stringAt('$.date'),
      group: sfn.JsonPath.objectAt('$.group'),
    };
    const exportGroup = invoke(names.exportGroup, props.exportGroup, {
      taskTimeout,
      resultPath: '$.outcome',
    }).addCatch(groupFailed, catchAll);
    const exportRange = invoke(names.exportRange, props.exportGroup, { taskTimeout });
    const exportRanges = sfn.Map.jsonPath(this, names.exportRanges, {
      itemsPath: '$.outcome.split.ranges',
      maxConcurrency: props.mapConcurrency,
      itemSelector: { ...iteration, range: sfn.JsonPath.objectAt('$$.Map.Item.Value') },
      resultPath: '$.parts',
    })
      .itemProcessor(exportRange)
      .addCatch(groupFailed, catchAll);
    const finishGroup = invoke(names.finishGroup, props.exportGroup, {
      taskTimeout,
      payload: sfn.TaskInput.fromObject({
        ...iteration,
        split: sfn.JsonPath.objectAt('$.outcome.split'),
        parts: sfn.JsonPath.objectAt('$.parts'),
      }),
    }).addCatch(groupFailed, catchAll);
    const groupExported = new sfn.Pass(this, names.groupExported, { outputPath: '$.outcome' });
    const isSplit = new sfn.Choice(this, names.isSplit)
      .when(sfn.Condition.isPresent('$.outcome.split'), exportRanges.next(finishGroup))
      .otherwise(groupExported);
    const exportGroups = sfn.Map.jsonPath(this, names.exportGroups, {
      itemsPath: '$.groups',
      maxConcurrency: props.mapConcurrency,
      itemSelector: {
        runId: sfn.JsonPath.stringAt('$.runId'),
        full: sfn.JsonPath.objectAt('$.full'),
        trigger: sfn.JsonPath.stringAt('$.trigger'),
        date: sfn.JsonPath.stringAt('$.date'),
        group: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      resultPath: '$.results',
    }).itemProcessor(exportGroup.next(isSplit));
    const summarize = invoke(names.summarize, props.summarize, {
      payload: sfn.TaskInput.fromObject({
        runId: sfn.JsonPath.stringAt('$.runId'),
        full: sfn.JsonPath.objectAt('$.full'),
        date: sfn.JsonPath.stringAt('$.date'),
        results: sfn.JsonPath.objectAt('$.results'),
      }),
    });

    this.stateMachine = pipelineStateMachine(this, {
      machineName: USER_EXPORT_STATE_MACHINE_NAME,
      definition: plan.next(exportGroups).next(summarize),
      timeout: props.timeout,
      logRetention: props.logRetention,
    });

    this.scheduleDeadLetters = new DeadLetterQueue(this, 'ScheduleDeadLetters', {
      purpose: 'daily user export runs the scheduler could not start (start the export by hand)',
    });
    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: props.canSend
        ? 'Daily export of the users ready for matching, per matching group'
        : 'Daily export of the users ready for matching: disabled until Kafka brokers are configured (mskBootstrapBrokers)',
      enabled: props.canSend,
      schedule: scheduler.ScheduleExpression.expression(
        props.scheduleExpression,
        TimeZone.of(props.timeZone),
      ),
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({
          trigger: 'schedule',
          full: props.fullOnSchedule,
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
        }),
        deadLetterQueue: this.scheduleDeadLetters,
        retryAttempts: 3,
        maxEventAge: Duration.hours(2),
      }),
    });
  }

  /**
   * Lets the export function write the files (`exports/users/` of the bucket, EXPORT_BUCKET; read and delete
   * there too, for the parts of a file written by several functions) and send the import requests: the
   * default topic (EXPORT_TOPIC) and, with MSK brokers, IAM access to write the `*-users` topics
   * (KAFKA_BROKERS, KAFKA_AUTH=iam).
   */
  bindExporter(fn: lambda.Function, bucket: s3.IBucket, kafka: ExportKafkaProps): void {
    bucket.grantPut(fn, 'exports/users/*');
    // A group cut into ranges: the finish reads the ranges' parts back and deletes them.
    bucket.grantRead(fn, 'exports/users/*');
    bucket.grantDelete(fn, 'exports/users/*');
    fn.addEnvironment(CONFIG_ENV.exportBucket, bucket.bucketName);
    fn.addEnvironment(CONFIG_ENV.exportTopic, kafka.defaultTopic);
    grantKafkaWrite(fn, kafka, [kafka.defaultTopic, '*-users']);
  }
}
