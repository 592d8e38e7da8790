import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { grantKafkaWrite } from './kafka-producer.ts';

export interface StatusPublishingProps {
  /** MSK cluster the status topics live on; the IAM permissions are derived from its ARN. */
  readonly mskClusterArn?: string;
  /** Its bootstrap brokers for IAM access (`b-1…:9098,…`); without them status messages are only recorded. */
  readonly mskBootstrapBrokers?: readonly string[];
  /** Status topics by import kind. */
  readonly topics: { readonly nodes: string; readonly matches: string };
  /** EventBridge bus receiving an `ImportJobFinished` event per finished job (`default`: the account's). */
  readonly eventBusName: string;
  /** LocalStack target only: brokers reached in plaintext without auth (the compose Kafka), instead of MSK. */
  readonly plaintextBrokers?: readonly string[];
}

/**
 * Where the status message of a finished job goes: the status topics on MSK (IAM auth), an event on
 * EventBridge, and a dead-letter queue for what neither accepted after its retries.
 */
export class StatusPublishing extends Construct {
  /** Status messages that could not be delivered: `{reason, error, destination, attempts, topic, key, headers, message}`. */
  readonly deadLetters: DeadLetterQueue;
  private readonly bus: events.IEventBus;
  private readonly props: StatusPublishingProps;

  constructor(scope: Construct, id: string, props: StatusPublishingProps) {
    super(scope, id);
    this.props = props;
    this.deadLetters = new DeadLetterQueue(this, 'DeadLetters', {
      purpose: 'status messages neither Kafka nor EventBridge accepted',
    });
    this.bus = events.EventBus.fromEventBusName(this, 'Bus', props.eventBusName);
  }

  /**
   * Lets a function publish status messages: the dead-letter queue (STATUS_DLQ_URL), the event bus
   * (EVENT_BUS_NAME), and with brokers the status topics (KAFKA_BROKERS, KAFKA_AUTH=iam, the topic names)
   * with the MSK data-plane permissions to connect, describe and write them.
   */
  bind(fn: lambda.Function): void {
    const { topics } = this.props;
    this.deadLetters.grantSendMessages(fn);
    fn.addEnvironment(CONFIG_ENV.statusDlqUrl, this.deadLetters.queueUrl);
    this.bus.grantPutEventsTo(fn);
    fn.addEnvironment(CONFIG_ENV.eventBusName, this.bus.eventBusName);
    fn.addEnvironment(CONFIG_ENV.nodesStatusTopic, topics.nodes);
    fn.addEnvironment(CONFIG_ENV.matchesStatusTopic, topics.matches);
    grantKafkaWrite(fn, this.props, [topics.nodes, topics.matches]);
  }
}
