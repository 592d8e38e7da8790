import { MessagingUnavailableError } from '../errors.ts';
import type { KafkaSettings } from '../kafka/client-options.ts';
import type { StringProducer } from '../kafka/producer.ts';
import { type RetryPolicy, retry } from '../model/retry.ts';

/** One import request as sent: topic, key, headers and the JSON value. */
export interface OutgoingRequest {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where the export's import requests go. */
export interface RequestSender {
  /** Where a request ends up: `kafka` (published) or `outbox` (kept locally, no broker configured). */
  readonly kind: 'kafka' | 'outbox';
  send(request: OutgoingRequest): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sends to Kafka with the process's one producer (created, and the client library loaded, on the first
 * send). Each request gets `retry.attempts` attempts, the jittered wait doubling from `baseDelayMs` up to
 * `maxDelayMs`; then {@link MessagingUnavailableError} with the last error as its cause.
 */
export function kafkaRequestSender(settings: KafkaSettings, policy: RetryPolicy): RequestSender {
  let producer: Promise<StringProducer> | undefined;
  const connect = (): Promise<StringProducer> => {
    producer ??= import('../kafka/producer.ts').then(({ createKafkaProducer }) =>
      createKafkaProducer(settings),
    );
    producer.catch(() => {
      producer = undefined;
    });
    return producer;
  };
  return {
    kind: 'kafka',
    async send(request) {
      let attempts = 0;
      try {
        await retry(async (attempt) => {
          attempts = attempt;
          const client = await connect();
          await client.send({ messages: [{ ...request, headers: { ...request.headers } }] });
        }, policy);
      } catch (error) {
        throw new MessagingUnavailableError(
          `Kafka did not take the import request for ${request.topic} after ${attempts} attempts`,
          { topic: request.topic, key: request.key, attempts },
          { cause: error },
        );
      }
    },
    async close() {
      const current = producer;
      producer = undefined;
      const client = await current?.catch(() => undefined);
      if (client && !client.closed) await client.close();
    },
  };
}
