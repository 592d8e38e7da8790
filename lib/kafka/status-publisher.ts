import type { StatusEnvelope, StatusPublisher } from '../model/status.ts';
import type { KafkaSettings } from './client-options.ts';
import type { StringProducer } from './producer.ts';

/** A {@link StatusPublisher} holding the process's one Kafka producer; `close` ends it. */
export interface KafkaStatusPublisher extends StatusPublisher {
  close(): Promise<void>;
}

/**
 * Publishes status messages to their Kafka topic: key the job id, the envelope's headers, the message as JSON.
 * The producer (and the Kafka client library, slow to load) is created on the first publish, so that functions
 * that never publish never load it; the same producer then serves every later message of the process.
 */
export function kafkaStatusPublisher(settings: KafkaSettings): KafkaStatusPublisher {
  let producer: Promise<StringProducer> | undefined;
  const connect = (): Promise<StringProducer> => {
    producer ??= import('./producer.ts').then(({ createKafkaProducer }) => createKafkaProducer(settings));
    producer.catch(() => {
      producer = undefined;
    });
    return producer;
  };
  return {
    destination: (envelope: StatusEnvelope) => envelope.topic,
    async publish(envelope) {
      const client = await connect();
      await client.send({
        messages: [
          {
            topic: envelope.topic,
            key: envelope.key,
            value: JSON.stringify(envelope.message),
            headers: { ...envelope.headers },
          },
        ],
      });
      return 'SENT';
    },
    async close() {
      const current = producer;
      producer = undefined;
      if (!current) return;
      const client = await current.catch(() => undefined);
      if (client && !client.closed) await client.close();
    },
  };
}
