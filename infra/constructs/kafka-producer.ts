import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { CONFIG_ENV } from '../../lib/config.ts';

/** Where a function's Kafka messages go: MSK with IAM auth, or (LocalStack target) plaintext brokers. */
export interface KafkaProducerProps {
  readonly mskClusterArn?: string | undefined;
  /** Bootstrap brokers for IAM access (`b-1…:9098,…`); without them (and plaintext ones) nothing is sent. */
  readonly mskBootstrapBrokers?: readonly string[] | undefined;
  /** LocalStack target only: brokers reached in plaintext without auth (the compose Kafka), instead of MSK. */
  readonly plaintextBrokers?: readonly string[] | undefined;
}

/**
 * Lets `fn` write `topics` (names or `*` patterns): the brokers and auth mode in its environment and, on MSK,
 * IAM permission to connect and to write those topics. Does nothing when no brokers are configured.
 */
export function grantKafkaWrite(
  fn: lambda.Function,
  kafka: KafkaProducerProps,
  topics: readonly string[],
): void {
  const { mskClusterArn, mskBootstrapBrokers, plaintextBrokers } = kafka;
  if (plaintextBrokers?.length) {
    fn.addEnvironment(CONFIG_ENV.kafkaBrokers, plaintextBrokers.join(','));
    fn.addEnvironment(CONFIG_ENV.kafkaAuth, 'none');
    return;
  }
  if (!mskClusterArn || !mskBootstrapBrokers?.length) return;
  fn.addEnvironment(CONFIG_ENV.kafkaBrokers, mskBootstrapBrokers.join(','));
  fn.addEnvironment(CONFIG_ENV.kafkaAuth, 'iam');
  fn.addEnvironment(CONFIG_ENV.kafkaClientId, `matchbridge-${fn.node.id.toLowerCase()}`);
  // Topic ARNs share the cluster's `<name>/<uuid>` path: arn:…:topic/<cluster>/<uuid>/<topic>.
  const topicArn = (topic: string) => `${mskClusterArn.replace(':cluster/', ':topic/')}/${topic}`;
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['kafka-cluster:Connect'], resources: [mskClusterArn] }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: topics.map(topicArn),
    }),
  );
}
