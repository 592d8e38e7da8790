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
}

/** Kafka consumer group ids are at most 200 characters. */
const MAX_CONSUMER_GROUP_ID = 200;

/** What feeds the ingest function: one MSK event-source mapping per import-request topic. */
export class IngestTriggers extends Construct {
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
      props.ingest.addEventSource(
        new ManagedKafkaEventSource({
          clusterArn,
          topic,
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          consumerGroupId,
          // The handler dead-letters bad requests itself and succeeds; what lands here is a batch the
          // function could not process at all (its metadata: topic, partition, offsets).
          onFailure: new SqsDlq(props.failures),
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
