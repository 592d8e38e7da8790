import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { JOB_ALARM_THRESHOLDS } from '../../infra/constructs/job-alarms.ts';
import { METRIC_NAMES } from '../../lib/observability/job-metrics.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

interface AlarmProps {
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  TreatMissingData?: string;
  AlarmActions?: unknown[];
  Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }[];
  AlarmDescription?: string;
}

const { pipeline } = synth();
const alarms = resourcesOf<AlarmProps>(pipeline, 'AWS::CloudWatch::Alarm');
const topicId = Object.keys(resourcesOf(pipeline, 'AWS::SNS::Topic'))[0];

/** The alarms whose logical id starts with `prefix`. */
const alarmsLike = (prefix: string) =>
  Object.entries(alarms)
    .filter(([id]) => id.startsWith(prefix))
    .map(([, alarm]) => alarm.Properties);

/** The metric names a math alarm reads. */
const metricNamesOf = (alarm: AlarmProps) =>
  (alarm.Metrics ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));

describe('failure paths and alarms', () => {
  it('has an alarm on depth > 0 for every queue of the pipeline, each paging the alarm topic', () => {
    const queues = Object.keys(resourcesOf(pipeline, 'AWS::SQS::Queue'));
    const depthAlarms = Object.values(alarms)
      .map((alarm) => alarm.Properties)
      .filter((alarm) => alarm.MetricName === 'ApproximateNumberOfMessagesVisible');

    // Ingest Records and Failures, StatusPublishing, ExecutionFailures, the user export's schedule, the bulk
    // API's failed job runs, the prune's schedule.
    assert.equal(queues.length, 7);
    const watched = depthAlarms.map((alarm) => {
      assert.equal(alarm.Threshold, 0);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(alarm.AlarmActions, [{ Ref: topicId }]);
      return JSON.stringify(alarm.Dimensions);
    });
    for (const queue of queues) {
      assert.ok(
        watched.some((dimensions) => dimensions.includes(`"${queue}"`)),
        `${queue} has a depth alarm`,
      );
    }
  });

  it('sends failed, timed-out and aborted executions of every state machine to a dead-letter queue and FailJob', () => {
    const machines = Object.keys(resourcesOf(pipeline, 'AWS::StepFunctions::StateMachine'));
    const failJob = functionsByHandler(pipeline)['fail-job'];
    assert.ok(failJob);
    // Node import, match import, erasure, user export.
    assert.equal(machines.length, 4);

    pipeline.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: Match.arrayEquals(machines.map((id) => ({ Ref: id }))),
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringExecutionFailures'), 'Arn'] },
        }),
        // A timed-out or aborted execution never ran FailJob: the rule runs it, which fails the job once.
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [failJob.logicalId, 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringExecutionFailures'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
  });

  it('has the seeds’ alarms: storage errors, a job over 2 h, no job completed for 2 days, success rate under 99 %', () => {
    const [storage] = alarmsLike('MonitoringJobAlarmsStorageErrors');
    const [longJob] = alarmsLike('MonitoringJobAlarmsJobOverTwoHours');
    const [quiet] = alarmsLike('MonitoringJobAlarmsNoJobCompleted');
    const [rate] = alarmsLike('MonitoringJobAlarmsSuccessRate');
    assert.ok(storage && longJob && quiet && rate);

    assert.deepEqual(
      metricNamesOf(storage).sort(),
      [METRIC_NAMES.matchStorageErrors, METRIC_NAMES.nodeImportErrors].sort(),
    );
    assert.equal(storage.Threshold, 0);
    assert.equal(longJob.Threshold, 7200);
    assert.ok(metricNamesOf(longJob).every((name) => name === METRIC_NAMES.jobDuration));
    assert.equal(quiet.Threshold, 1);
    assert.equal(quiet.ComparisonOperator, 'LessThanThreshold');
    assert.equal(quiet.EvaluationPeriods, JOB_ALARM_THRESHOLDS.quietDays);
    assert.equal(quiet.TreatMissingData, 'breaching');
    assert.equal(rate.Threshold, 99);
    assert.equal(rate.ComparisonOperator, 'LessThanThreshold');
    for (const alarm of [storage, longJob, quiet, rate])
      assert.deepEqual(alarm.AlarmActions, [{ Ref: topicId }]);
  });

  it('encrypts the alarm topic with a rotated key that CloudWatch may use', () => {
    pipeline.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    pipeline.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('subscribes the configured addresses to the alarm topic', () => {
    const { pipeline: withEmails } = synth({ alarmEmails: 'ops@example.com,oncall@example.com' });

    const endpoints = Object.values(
      resourcesOf<{ Protocol: string; Endpoint: string }>(withEmails, 'AWS::SNS::Subscription'),
    ).map((s) => `${s.Properties.Protocol}:${s.Properties.Endpoint}`);
    assert.deepEqual(endpoints.sort(), ['email:oncall@example.com', 'email:ops@example.com']);
  });
});

describe('dashboard', () => {
  const [dashboard] = Object.values(
    resourcesOf<{ DashboardBody: unknown }>(pipeline, 'AWS::CloudWatch::Dashboard'),
  );
  const body = JSON.stringify(dashboard?.Properties.DashboardBody);

  it('shows jobs, rows/s, batch duration percentiles, DLQ depths, Lambda errors and throttles, RDS Proxy connections', () => {
    for (const title of [
      'Jobs started (executions) / completed / failed',
      'Rows written per second',
      'Batch duration (ms)',
      'Dead-letter queue depths',
      'Lambda errors and throttles',
      'RDS Proxy connections',
      'Bulk API requests, 4XX, 5XX',
      'Bulk API latency (ms)',
      'Rows pruned and references erased, a day',
      'Alarms',
    ]) {
      assert.ok(body.includes(title), `a widget titled ${title}`);
    }
    for (const name of [
      'ExecutionsStarted',
      METRIC_NAMES.jobDuration,
      METRIC_NAMES.nodesWritten,
      METRIC_NAMES.matchesWritten,
      METRIC_NAMES.rowsPruned,
      METRIC_NAMES.referencesErased,
      'p99',
      'ApproximateNumberOfMessagesVisible',
      'Throttles',
      'DatabaseConnections',
      '5XXError',
      'Latency',
    ]) {
      assert.ok(body.includes(name), `the dashboard reads ${name}`);
    }
  });

  it('has no RDS Proxy widget with an existing database', () => {
    const { pipeline: existing } = synth({
      database: {
        host: 'db.example',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
        securityGroupId: 'sg-0123',
      },
    });
    const [other] = Object.values(
      resourcesOf<{ DashboardBody: unknown }>(existing, 'AWS::CloudWatch::Dashboard'),
    );
    assert.ok(!JSON.stringify(other?.Properties.DashboardBody).includes('RDS Proxy'));
  });
});

describe('operator alarms', () => {
  const pages = (alarm: AlarmProps) => JSON.stringify(alarm.AlarmActions).includes(String(topicId));
  const namespacesOf = (alarm: AlarmProps) =>
    (alarm.Metrics ?? []).flatMap((m) => {
      const metric = m.MetricStat?.Metric as { Namespace?: string } | undefined;
      return metric?.Namespace ? [metric.Namespace] : [];
    });
  /** Alarms on one metric, whether CDK rendered them as a plain metric or a metric inside `Metrics`. */
  const byMetric = (namespace: string, metricName: string, from = alarms) =>
    Object.values(from)
      .map((alarm) => alarm.Properties)
      .filter(
        (alarm) =>
          (alarm.Namespace === namespace && alarm.MetricName === metricName) ||
          (namespacesOf(alarm).includes(namespace) && metricNamesOf(alarm).includes(metricName)),
      );

  it('pages on 3 errors of any function in 5 minutes, and on throttling for 15 minutes', () => {
    const errors = byMetric('AWS/Lambda', 'Errors');
    const throttles = byMetric('AWS/Lambda', 'Throttles');

    assert.equal(errors.length, 19);
    assert.equal(throttles.length, 19);
    for (const alarm of errors) {
      assert.deepEqual([alarm.Threshold, alarm.EvaluationPeriods], [3, 1]);
      assert.ok(pages(alarm));
    }
    for (const alarm of throttles) {
      assert.deepEqual([alarm.Threshold, alarm.EvaluationPeriods], [1, 3]);
      assert.ok(pages(alarm));
    }
  });

  it("pages on the database's CPU above 80 % for 15 minutes and on less than 10 GiB free", () => {
    const [cpu] = byMetric('AWS/RDS', 'CPUUtilization');
    const [storage] = byMetric('AWS/RDS', 'FreeStorageSpace');

    assert.deepEqual(
      [cpu?.Threshold, cpu?.EvaluationPeriods, cpu?.ComparisonOperator],
      [80, 3, 'GreaterThanThreshold'],
    );
    assert.deepEqual(
      [storage?.Threshold, storage?.ComparisonOperator],
      [10_737_418_240, 'LessThanThreshold'],
    );
    assert.ok(cpu && storage && pages(cpu) && pages(storage));
    const existing = resourcesOf<AlarmProps>(
      synth({
        database: {
          mode: 'existing',
          host: 'db.internal.example',
          secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
          securityGroupId: 'sg-0123456789abcdef0',
        },
      }).pipeline,
      'AWS::CloudWatch::Alarm',
    );
    // An existing database is its operators' to watch.
    assert.equal(byMetric('AWS/RDS', 'CPUUtilization', existing).length, 0);
  });

  it("pages when a group's daily user export fails", () => {
    const [failures] = byMetric('Matchbridge', 'users_export_failures');

    assert.equal(failures?.Threshold, 1);
    assert.ok(failures && pages(failures));
  });

  it('does not warn of missing alarm addresses in a synth that is not for a deploy (local runs)', () => {
    const warnings = Annotations.fromStack(synth().stacks.pipeline).findWarning(
      '*',
      Match.stringLikeRegexp('alarmEmails'),
    );

    assert.deepEqual(warnings, []);
  });
});
