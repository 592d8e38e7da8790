import { Consumer } from '@platformatic/kafka';
import { type KafkaSettings, kafkaConnectionOptions } from './client-options.ts';

/** A consumer that hands out keys, values and headers as the bytes the producer sent. */
export type BytesConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

/** How long a fetch waits on the broker for new records before answering with none. */
const MAX_WAIT_MS = 1_000;

/**
 * A consumer in group `groupId` that commits nothing by itself: its user commits once a batch is processed
 * (at-least-once). Topics are auto-created only without authentication (a local broker).
 */
export function createKafkaConsumer(settings: KafkaSettings, groupId: string): BytesConsumer {
  return new Consumer({
    ...kafkaConnectionOptions(settings),
    groupId,
    autocommit: false,
    maxWaitTime: MAX_WAIT_MS,
    autocreateTopics: settings.auth === 'none',
  });
}
