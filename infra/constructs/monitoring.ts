import { Annotations, type CfnResource, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { METRIC_NAMES } from '../../lib/observability/job-metrics.ts';
import { METADATA_KEYS } from '../metadata.ts';
import { BulkApi } from './bulk-api.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { finishedJobs, JobAlarms, longestJob, serviceMetric } from './job-alarms.ts';
import { MatchbridgeFunction } from './matchbridge-function.ts';

/** Final states of an execution that mean the job did not end normally. */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export interface MonitoringProps {
  /** Addresses subscribed to the alarm topic (an email each; confirm the subscription once). */
  readonly alarmEmails: readonly string[];
  /** RDS Proxy whose connections the dashboard shows (a new database only). */
  readonly proxyName?: string;
  /** The RDS instance whose CPU and free storage page (a new database only). */
  readonly databaseInstanceId?: string;
}

/** Errors of one function in 5 minutes that page: a retried transient error or two does not. */
const FUNCTION_ERRORS_THRESHOLD = 3;
/** RDS CPU (%) that pages once it lasts 15 minutes. */
const DATABASE_CPU_PERCENT = 80;
/** Free storage (bytes) under which the database pages: storage autoscaling has not kept up. */
const DATABASE_MIN_FREE_BYTES = 10 * 1024 ** 3;

/**
 * What the operators see and what pages them: an alarm topic (KMS-encrypted), the seeds' job alarms, a
 * dead-letter queue of failed executions fed by an EventBridge rule, and one dashboard.
 *
 * Call {@link Monitoring.watch} last in a stack: it finds every {@link DeadLetterQueue} (alarm → topic, depth
 * on the dashboard), every {@link MatchbridgeFunction} (errors and throttles), every {@link BulkApi} (5XX
 * alarm, requests and latency) and every state machine carrying `matchbridge:state-machine` metadata
 * (failure rule, executions on the dashboard), so constructs added later are covered by what they are, not
 * by a list kept here.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly jobAlarms: JobAlarms;
  /** Executions of our state machines that FAILED, TIMED_OUT or were ABORTED (the EventBridge event). */
  readonly executionFailures: DeadLetterQueue;
  readonly executionFailureRule: events.Rule;

  readonly #alarmAction: SnsAction;
  readonly #executions: cloudwatch.GraphWidget;
  readonly #deadLetters: cloudwatch.GraphWidget;
  readonly #lambdaErrors: cloudwatch.GraphWidget;
  readonly #rows: cloudwatch.IWidget[][];
  readonly #alarms: cloudwatch.IAlarm[] = [];
  readonly #watched = new Set<IConstruct>();
  #rendered = false;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Matchbridge alarm topic',
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarms to an encrypted topic only if the key lets it.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${Stack.of(this).stackName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of props.alarmEmails) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    this.#alarmAction = new SnsAction(this.alarmTopic);

    this.executionFailures = new DeadLetterQueue(this, 'ExecutionFailures', {
      purpose: 'import and export executions that failed, timed out or were aborted',
    });
    this.executionFailureRule = new events.Rule(this, 'ExecutionFailureRule', {
      description: 'Failed, timed-out and aborted Matchbridge executions → the ExecutionFailures queue',
    });
    this.executionFailureRule.addTarget(
      new targets.SqsQueue(this.executionFailures, { retryAttempts: 8, maxEventAge: Duration.hours(24) }),
    );

    // Only when synthesizing for a deploy (bundling on): local runs synthesize too, and have no alarms to send.
    if (props.alarmEmails.length === 0 && Stack.of(this).bundlingRequired) {
      Annotations.of(this).addWarning(
        'No alarmEmails: alarms go to the alarm topic, which nobody is subscribed to. Set the context key alarmEmails.',
      );
    }

    this.jobAlarms = new JobAlarms(this, 'JobAlarms');
    for (const alarm of this.jobAlarms.all) alarm.addAlarmAction(this.#alarmAction);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}`,
      defaultInterval: Duration.days(1),
    });
    const hour = Duration.hours(1);
    const fiveMinutes = Duration.minutes(5);
    this.#alarms.push(...this.jobAlarms.all);
    this.addAlarm(
      serviceMetric(METRIC_NAMES.usersExportFailures, {
        statistic: cloudwatch.Stats.SUM,
        period: Duration.hours(1),
      }).createAlarm(this, 'UserExportFailures', {
        alarmDescription: "A group's daily user export failed after its retries. See docs/runbook.md.",
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.databaseInstanceId !== undefined) this.addDatabase(props.databaseInstanceId);
    this.#executions = new cloudwatch.GraphWidget({
      title: 'Jobs started (executions) / completed / failed',
      left: [finishedJobs('COMPLETED', hour, 'jobs completed'), finishedJobs('FAILED', hour, 'jobs failed')],
      width: 12,
    });
    const rowsPerSecond = new cloudwatch.GraphWidget({
      title: 'Rows written per second',
      left: [
        new cloudwatch.MathExpression({
          expression: 'FILL(nodes, 0) / PERIOD(nodes)',
          usingMetrics: {
            nodes: serviceMetric(METRIC_NAMES.nodesWritten, { statistic: 'Sum', period: fiveMinutes }),
          },
          label: 'nodes/s',
          period: fiveMinutes,
        }),
        new cloudwatch.MathExpression({
          expression: 'FILL(matches, 0) / PERIOD(matches)',
          usingMetrics: {
            matches: serviceMetric(METRIC_NAMES.matchesWritten, { statistic: 'Sum', period: fiveMinutes }),
          },
          label: 'matches/s',
          period: fiveMinutes,
        }),
      ],
      width: 12,
    });
    const percentiles = ['p50', 'p90', 'p99'] as const;
    const batchDuration = new cloudwatch.GraphWidget({
      title: 'Batch duration (ms)',
      left: [METRIC_NAMES.nodeBatchDuration, METRIC_NAMES.matchBatchDuration].flatMap((name) =>
        percentiles.map((statistic) =>
          serviceMetric(name, { statistic, period: fiveMinutes, label: `${name} ${statistic}` }),
        ),
      ),
      width: 12,
    });
    const jobDuration = new cloudwatch.GraphWidget({
      title: 'Longest job (s)',
      left: [longestJob(fiveMinutes)],
      leftAnnotations: [{ value: 7200, label: '2 h' }],
      width: 12,
    });
    this.#deadLetters = new cloudwatch.GraphWidget({
      title: 'Dead-letter queue depths',
      width: 12,
    });
    this.#lambdaErrors = new cloudwatch.GraphWidget({
      title: 'Lambda errors and throttles',
      width: 12,
    });
    const day = Duration.days(1);
    const housekeeping = new cloudwatch.GraphWidget({
      title: 'Rows pruned and references erased, a day',
      left: [
        serviceMetric(METRIC_NAMES.rowsPruned, { statistic: 'Sum', period: day, label: 'rows pruned' }),
        serviceMetric(METRIC_NAMES.referencesErased, {
          statistic: 'Sum',
          period: day,
          label: 'references erased',
        }),
      ],
      width: 24,
    });
    this.#rows = [
      [this.#executions, rowsPerSecond],
      [batchDuration, jobDuration],
      [this.#deadLetters, this.#lambdaErrors],
      [housekeeping],
    ];
    if (props.proxyName !== undefined) {
      const proxyMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/RDS',
          metricName,
          dimensionsMap: { ProxyName: props.proxyName ?? '' },
          statistic: 'Maximum',
          period: fiveMinutes,
        });
      this.#rows.push([
        new cloudwatch.GraphWidget({
          title: 'RDS Proxy connections',
          left: [proxyMetric('ClientConnections'), proxyMetric('DatabaseConnections')],
          width: 24,
        }),
      ]);
    }
  }

  /** Sends an alarm of another construct to the alarm topic and shows it on the dashboard. */
  addAlarm(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(this.#alarmAction);
    this.#alarms.push(alarm);
  }

  /** A dead-letter queue: its alarm pages, its depth is on the dashboard. */
  addDeadLetterQueue(queue: DeadLetterQueue): void {
    if (!this.#claim(queue)) return;
    this.addAlarm(queue.depthAlarm);
    this.#deadLetters.addLeftMetric(
      queue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
        label: queue.node.path.split('/').slice(1).join('/'),
      }),
    );
  }

  /** A state machine: failed executions go to {@link executionFailures}; executions on the dashboard. */
  addStateMachine(stateMachine: sfn.StateMachine, name: string): void {
    if (!this.#claim(stateMachine)) return;
    this.executionFailureRule.addEventPattern({
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: {
        status: [...FAILED_EXECUTION_STATUSES],
        stateMachineArn: [stateMachine.stateMachineArn],
      },
    });
    const period = Duration.hours(1);
    this.#executions.addLeftMetric(stateMachine.metricStarted({ period, label: `${name} started` }));
    this.#executions.addRightMetric(
      stateMachine.metricFailed({ period, label: `${name} executions failed` }),
    );
    this.#executions.addRightMetric(stateMachine.metricTimedOut({ period, label: `${name} timed out` }));
  }

  /** The bulk HTTP API: its 5XX alarm pages; requests, errors and latency on the dashboard. */
  addBulkApi(bulkApi: BulkApi): void {
    if (!this.#claim(bulkApi)) return;
    this.addAlarm(bulkApi.serverErrorAlarm);
    const period = Duration.minutes(5);
    const { api } = bulkApi;
    this.#rows.push([
      new cloudwatch.GraphWidget({
        title: 'Bulk API requests, 4XX, 5XX',
        left: [
          api.metricCount({ period, statistic: 'Sum', label: 'requests' }),
          api.metricClientError({ period, statistic: 'Sum', label: '4XX' }),
          api.metricServerError({ period, statistic: 'Sum', label: '5XX' }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Bulk API latency (ms)',
        left: ['p50', 'p90', 'p99'].map((statistic) =>
          api.metricLatency({ period, statistic, label: `latency ${statistic}` }),
        ),
        width: 12,
      }),
    ]);
  }

  /** A function: repeated errors and any sustained throttling page; both on the dashboard. */
  addFunction(fn: MatchbridgeFunction): void {
    if (!this.#claim(fn)) return;
    const period = Duration.minutes(5);
    const errors = fn.metricErrors({
      period,
      statistic: cloudwatch.Stats.SUM,
      label: `${fn.handlerName} errors`,
    });
    const throttles = fn.metricThrottles({
      period,
      statistic: cloudwatch.Stats.SUM,
      label: `${fn.handlerName} throttles`,
    });
    this.#lambdaErrors.addLeftMetric(errors);
    this.#lambdaErrors.addRightMetric(throttles);
    const id = fn.node.id;
    this.addAlarm(
      errors.createAlarm(this, `${id}Errors`, {
        alarmDescription: `${fn.handlerName} failed ${FUNCTION_ERRORS_THRESHOLD} times or more in 5 minutes. See docs/runbook.md.`,
        threshold: FUNCTION_ERRORS_THRESHOLD,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.addAlarm(
      throttles.createAlarm(this, `${id}Throttles`, {
        alarmDescription: `${fn.handlerName} was throttled in 3 consecutive 5-minute periods. See docs/runbook.md.`,
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** The RDS instance: CPU above 80 % for 15 minutes, or free storage under 10 GiB, pages. */
  addDatabase(instanceId: string): void {
    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { DBInstanceIdentifier: instanceId },
        statistic,
        period: Duration.minutes(5),
      });
    this.addAlarm(
      metric('CPUUtilization', cloudwatch.Stats.AVERAGE).createAlarm(this, 'DatabaseCpu', {
        alarmDescription: `The database's CPU stayed above ${DATABASE_CPU_PERCENT} % for 15 minutes. See docs/runbook.md.`,
        threshold: DATABASE_CPU_PERCENT,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      }),
    );
    this.addAlarm(
      metric('FreeStorageSpace', cloudwatch.Stats.MINIMUM).createAlarm(this, 'DatabaseFreeStorage', {
        alarmDescription: 'The database has less than 10 GiB of free storage. See docs/runbook.md.',
        threshold: DATABASE_MIN_FREE_BYTES,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }

  /**
   * Covers everything of ours under `scope` (normally the stack), as the class docs say, then lays out the
   * dashboard. Call it once, last.
   */
  watch(scope: IConstruct): void {
    if (this.#rendered) throw new Error('Monitoring.watch may be called once');
    this.#rendered = true;
    for (const construct of scope.node.findAll()) {
      if (construct instanceof DeadLetterQueue) this.addDeadLetterQueue(construct);
      else if (construct instanceof MatchbridgeFunction) this.addFunction(construct);
      else if (construct instanceof BulkApi) this.addBulkApi(construct);
      else if (construct instanceof sfn.StateMachine) {
        const name = (construct.node.defaultChild as CfnResource | undefined)?.getMetadata(
          METADATA_KEYS.stateMachine,
        );
        if (typeof name === 'string') this.addStateMachine(construct, name);
      }
    }
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.#alarms, width: 24, height: 6 }),
    );
    for (const row of this.#rows) this.dashboard.addWidgets(...row);
  }

  #claim(construct: IConstruct): boolean {
    if (this.#watched.has(construct)) return false;
    this.#watched.add(construct);
    return true;
  }
}
