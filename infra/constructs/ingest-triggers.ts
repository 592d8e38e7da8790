import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ManagedKafkaEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface IngestTriggersProps {
  /** The ingest function: decodes import requests and starts one execution each. */
  readonly ingest: lambda.Function;
  /** Receives the batches the event-source mapping could not deliver (on-failure destination). */
  readonly failures: sqs.IQueue;
  /** MSK cluster carrying import requests; without it no event-source mapping is created. */
  readonly mskClusterArn?: string;
  /** Topics of node import requests: one event-source mapping each. */
  readonly topics: readonly string[];
  /** Prefix of the consumer group ids, stable across deploys (e.g. the stack name). */
  readonly consumerGroupPrefix: string;
  /** Where a new consumer group starts reading. */
  readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
  /** Provisioned pollers of each mapping (the mode the error-handling controls need). */
  readonly pollers: { readonly minimum: number; readonly maximum: number };
  /** Retries of a failed batch or of reported records before they go to `failures`. */
  readonly retryAttempts: number;
  /** Records older than this go to `failures` unprocessed. */
  readonly maxRecordAge: Duration;
  /** OffsetLag (records) above which a mapping's alarm fires. */
  readonly offsetLagAlarmThreshold: number;
}

/** Kafka consumer group ids are at most 200 characters. */
const MAX_CONSUMER_GROUP_ID = 200;

/**
 * What feeds the ingest function: one MSK event-source mapping per import-request topic, each with bounded
 * retries and an alarm on how far it lags behind its topic.
 */
export class IngestTriggers extends Construct {
  /** One per mapping: its OffsetLag stayed above the threshold (the topic is not being consumed). */
  readonly offsetLagAlarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: IngestTriggersProps) {
    super(scope, id);
    const clusterArn = props.mskClusterArn;
    if (clusterArn === undefined) return;
    // Topic and group ARNs share the cluster's `<name>/<uuid>` path.
    const arnOf = (kind: 'topic' | 'group', name: string) =>
      `${clusterArn.replace(':cluster/', `:${kind}/`)}/${name}`;
    const groups: string[] = [];
    // An MSK event-source mapping consumes exactly one topic.
    for (const topic of props.topics) {
      // A fixed group keeps the committed offsets when a mapping is replaced, so a redeploy does not
      // re-read the topic from TRIM_HORIZON.
      const consumerGroupId = `${props.consumerGroupPrefix}-ingest-${topic}`.slice(0, MAX_CONSUMER_GROUP_ID);
      groups.push(consumerGroupId);
      const source = new ManagedKafkaEventSource({
        clusterArn,
        topic,
        startingPosition: lambda.StartingPosition[props.startingPosition],
        consumerGroupId,
        // The retry limit, record age, bisect and partial batch responses below need provisioned pollers.
        provisionedPollerConfig: {
          minimumPollers: props.pollers.minimum,
          maximumPollers: props.pollers.maximum,
        },
        // Unbounded (the default), a failing batch would block its partition and never reach `failures`.
        retryAttempts: props.retryAttempts,
        maxRecordAge: props.maxRecordAge,
        bisectBatchOnError: true,
        // Ingest returns the records it could not take now; the mapping resumes each partition there.
        reportBatchItemFailures: true,
        // The handler dead-letters bad requests itself and succeeds; what lands here is records the
        // function could not take within the retries (their metadata: topic, partition, offsets).
        onFailure: new SqsDlq(props.failures),
      });
      props.ingest.addEventSource(source);
      this.offsetLagAlarms.push(
        new cloudwatch.Alarm(this, `OffsetLag${this.offsetLagAlarms.length}`, {
          alarmDescription: `The ingest mapping of topic ${topic} lags more than ${props.offsetLagAlarmThreshold} records behind it`,
          metric: new cloudwatch.Metric({
            namespace: 'AWS/Lambda',
            metricName: 'OffsetLag',
            dimensionsMap: {
              FunctionName: props.ingest.functionName,
              EventSourceMappingUUID: source.eventSourceMappingId,
            },
            statistic: 'Maximum',
            period: Duration.minutes(5),
          }),
          threshold: props.offsetLagAlarmThreshold,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    // The mapping polls with the function's role; on a cluster with IAM access control it needs these
    // data-plane permissions besides the ones CDK adds (describe cluster, bootstrap brokers, ENIs).
    props.ingest.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [clusterArn],
      }),
    );
    props.ingest.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: props.topics.map((topic) => arnOf('topic', topic)),
      }),
    );
    props.ingest.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: groups.map((group) => arnOf('group', group)),
      }),
    );
  }
}
