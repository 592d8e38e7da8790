import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** How long a dead letter is kept: SQS's longest, so a weekend outage is still replayable on Monday. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

export interface DeadLetterQueueProps {
  /** What lands here, in a few words: the alarm's description and the dashboard's label. */
  readonly purpose: string;
}

/**
 * A dead-letter queue: encrypted, TLS-only, kept 14 days, with an alarm as soon as one message is in it
 * (visible messages > 0). {@link Monitoring.watch} finds every one in a stack, sends its alarm to the alarm
 * topic and puts its depth on the dashboard, so a new stage only has to create one.
 */
export class DeadLetterQueue extends sqs.Queue {
  readonly purpose: string;
  readonly depthAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    this.purpose = props.purpose;
    this.depthAlarm = new cloudwatch.Alarm(this, 'DepthAlarm', {
      alarmDescription: `Dead letters: ${props.purpose}. See docs/runbook.md (replay).`,
      metric: this.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
