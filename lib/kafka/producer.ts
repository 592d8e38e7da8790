import { ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka';
import { type KafkaSettings, kafkaConnectionOptions } from './client-options.ts';

/** A producer of string keys, values and headers. */
export type StringProducer = Producer<string, string, string, string>;

/** How long one connection attempt and one request may take; retries are the caller's business. */
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 15_000;
const CLIENT_RETRIES = 1;
const CLIENT_RETRY_DELAY_MS = 250;

/**
 * A producer of string messages that waits for every in-sync replica (`acks=all`). It connects on its first
 * send. Topics are auto-created only without authentication (a local broker): on MSK they are provisioned,
 * and asking for their creation would need `kafka-cluster:CreateTopic`.
 */
export function createKafkaProducer(settings: KafkaSettings): StringProducer {
  return new Producer({
    ...kafkaConnectionOptions(settings),
    serializers: stringSerializers,
    acks: ProduceAcks.ALL,
    autocreateTopics: settings.auth === 'none',
    connectTimeout: CONNECT_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    retries: CLIENT_RETRIES,
    retryDelay: CLIENT_RETRY_DELAY_MS,
  });
}
