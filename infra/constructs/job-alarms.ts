import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC_NAMES, METRICS_NAMESPACE, METRICS_SERVICE } from '../../lib/observability/job-metrics.ts';

const KINDS = ['nodes', 'matches'] as const;

/** A metric of ours: the Powertools namespace and `service` dimension, plus any others. */
export function serviceMetric(
  metricName: string,
  options: Omit<cloudwatch.MetricProps, 'namespace' | 'metricName'> = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    ...options,
    dimensionsMap: { service: METRICS_SERVICE, ...options.dimensionsMap },
  });
}

/** Finished jobs of every kind with one final status, per period (missing periods count 0). */
export function finishedJobs(status: 'COMPLETED' | 'FAILED', period: Duration, label: string) {
  const usingMetrics = Object.fromEntries(
    KINDS.map((kind) => [
      `${status.toLowerCase()}_${kind}`,
      serviceMetric(METRIC_NAMES.jobDuration, {
        dimensionsMap: { kind, status },
        statistic: cloudwatch.Stats.SAMPLE_COUNT,
        period,
      }),
    ]),
  );
  return new cloudwatch.MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    period,
    label,
  });
}

/** The longest job that finished in the period, of any kind and status (seconds). */
export function longestJob(period: Duration) {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  for (const kind of KINDS) {
    for (const status of ['COMPLETED', 'FAILED'] as const) {
      usingMetrics[`${status.toLowerCase()}_${kind}`] = serviceMetric(METRIC_NAMES.jobDuration, {
        dimensionsMap: { kind, status },
        statistic: cloudwatch.Stats.MAXIMUM,
        period,
      });
    }
  }
  return new cloudwatch.MathExpression({
    expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    period,
    label: 'longest job (s)',
  });
}

/** Thresholds of the seeds' alerts. */
export const JOB_ALARM_THRESHOLDS = {
  /** "job duration > 2h → Warning". */
  maxJobSeconds: 2 * 60 * 60,
  /** "No jobs processed for 2 days → Critical". */
  quietDays: 2,
  /** Success rate > 99 % (the node import design's target). */
  minSuccessPercent: 99,
} as const;

/**
 * The alarms of the seeds' alert table: any storage error, a job over 2 h, no job completed for 2 days,
 * a success rate under 99 %. Each reads the metrics the functions publish (lib/observability/job-metrics.ts).
 */
export class JobAlarms extends Construct {
  readonly storageErrors: cloudwatch.Alarm;
  readonly longJob: cloudwatch.Alarm;
  readonly noJobCompleted: cloudwatch.Alarm;
  readonly successRate: cloudwatch.Alarm;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const fiveMinutes = Duration.minutes(5);
    const storageErrors = new cloudwatch.MathExpression({
      expression: 'FILL(matches, 0) + FILL(nodes, 0)',
      usingMetrics: {
        matches: serviceMetric(METRIC_NAMES.matchStorageErrors, {
          statistic: cloudwatch.Stats.SUM,
          period: fiveMinutes,
        }),
        nodes: serviceMetric(METRIC_NAMES.nodeImportErrors, {
          statistic: cloudwatch.Stats.SUM,
          period: fiveMinutes,
        }),
      },
      period: fiveMinutes,
      label: 'storage errors',
    });
    this.storageErrors = storageErrors.createAlarm(this, 'StorageErrors', {
      alarmDescription:
        'A batch or job could not be written to the database (match_suggestions_storage_errors_total or node_import_errors > 0).',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.longJob = longestJob(fiveMinutes).createAlarm(this, 'JobOverTwoHours', {
      alarmDescription: `A job ran longer than ${JOB_ALARM_THRESHOLDS.maxJobSeconds / 3600} h (import_job_duration_seconds).`,
      threshold: JOB_ALARM_THRESHOLDS.maxJobSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const day = Duration.days(1);
    this.noJobCompleted = finishedJobs('COMPLETED', day, 'completed jobs').createAlarm(
      this,
      'NoJobCompleted',
      {
        alarmDescription: `No import job completed for ${JOB_ALARM_THRESHOLDS.quietDays} days.`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: JOB_ALARM_THRESHOLDS.quietDays,
        datapointsToAlarm: JOB_ALARM_THRESHOLDS.quietDays,
        // A day without a single sample is exactly what this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );

    const completed = finishedJobs('COMPLETED', day, 'completed');
    const failed = finishedJobs('FAILED', day, 'failed');
    const successRate = new cloudwatch.MathExpression({
      expression: '100 * completed / (completed + failed)',
      usingMetrics: { completed, failed },
      period: day,
      label: 'success rate (%)',
    });
    this.successRate = successRate.createAlarm(this, 'SuccessRate', {
      alarmDescription: `Less than ${JOB_ALARM_THRESHOLDS.minSuccessPercent} % of the jobs finished in a day completed.`,
      threshold: JOB_ALARM_THRESHOLDS.minSuccessPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No job finished: no rate (the quiet-days alarm covers that).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Every alarm of the seeds' table. */
  get all(): readonly cloudwatch.Alarm[] {
    return [this.storageErrors, this.longJob, this.noJobCompleted, this.successRate];
  }
}
