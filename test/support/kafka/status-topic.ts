import { randomUUID } from 'node:crypto';
import { Consumer, type Message, stringDeserializers } from '@platformatic/kafka';

/** A consumed message with string key, value and headers. */
export type StringMessage = Message<string, string, string, string>;

/**
 * Reads `topic` from its earliest offset, in a group of its own, until a message matches; fails when none
 * did within `timeoutMs`.
 */
export async function readMessage(
  bootstrap: string,
  topic: string,
  matches: (message: StringMessage) => boolean,
  timeoutMs = 30_000,
): Promise<StringMessage> {
  const consumer = new Consumer({
    clientId: 'mb-test-status-reader',
    groupId: `mb-test-reader-${randomUUID()}`,
    bootstrapBrokers: [bootstrap],
    deserializers: stringDeserializers,
    maxWaitTime: 500,
  });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    const timer = setTimeout(
      () => stream.destroy(new Error(`no matching message on ${topic} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      for await (const message of stream) {
        if (matches(message)) return message;
      }
      throw new Error(`the stream of ${topic} ended without a matching message`);
    } finally {
      clearTimeout(timer);
      if (!stream.destroyed) await stream.close();
    }
  } finally {
    await consumer.close(true);
  }
}
