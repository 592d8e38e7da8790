import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { MatchbridgeError } from '../errors.ts';
import type { DeadLetter } from '../model/ingest.ts';
import { parseDeadLetter, type ReplayOutcome } from '../model/ingest.ts';
import { logger } from '../observability/logger.ts';

/** A message of the dead-letter queue, as received. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** When the message was sent (epoch milliseconds). */
  readonly sentAt: number;
}

/** The operations a replay needs from a queue. */
export interface ReplayQueue {
  /** Receives up to `max` (≤ 10) messages, hidden from other consumers while they are replayed. */
  receive(max: number): Promise<QueuedMessage[]>;
  delete(message: QueuedMessage): Promise<void>;
  /** Makes a message visible again at once. */
  release(message: QueuedMessage): Promise<void>;
}

/** How long a received letter stays hidden while it is replayed. */
const VISIBILITY_SECONDS = 120;

/** The ingest dead-letter queue on SQS as a {@link ReplayQueue}. */
export function sqsReplayQueue(queueUrl: string, region: string, client?: SQSClient): ReplayQueue {
  const sqs = client ?? new SQSClient({ region });
  return {
    async receive(max) {
      const result = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
          WaitTimeSeconds: 1,
          VisibilityTimeout: VISIBILITY_SECONDS,
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      return (result.Messages ?? []).flatMap((m) =>
        m.MessageId && m.ReceiptHandle
          ? [
              {
                messageId: m.MessageId,
                receiptHandle: m.ReceiptHandle,
                body: m.Body ?? '',
                sentAt: Number(m.Attributes?.SentTimestamp ?? 0),
              },
            ]
          : [],
      );
    },
    async delete(message) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.receiptHandle }));
    },
    async release(message) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    },
  };
}

/** What a replay run did, message by message. */
export interface QueueReplaySummary {
  readonly replayed: Array<{ readonly messageId: string } & ReplayOutcome>;
  /** Messages that are not dead letters: left in the queue (hidden for a while), never deleted. */
  readonly skipped: Array<{ readonly messageId: string; readonly reason: string }>;
}

/**
 * Replays up to `max` letters of a dead-letter queue: each is re-submitted through `replay` (the ingest path
 * it first took) and deleted once that succeeded — started, a duplicate, or dead-lettered again as a new
 * message with its new reason. Only letters sent before the run began are replayed, so a letter that is
 * dead-lettered again is not picked up by the same run. When `replay` throws (an infrastructure error),
 * the letter and the rest of its batch are released for a later run and the error propagates.
 */
export async function replayQueue(
  queue: ReplayQueue,
  replay: (letter: DeadLetter) => Promise<ReplayOutcome>,
  options: { max: number; now?: () => number },
): Promise<QueueReplaySummary> {
  const startedAt = (options.now ?? Date.now)();
  const summary: QueueReplaySummary = { replayed: [], skipped: [] };
  const seen = new Set<string>();
  let done = false;
  while (!done && summary.replayed.length + summary.skipped.length < options.max) {
    const batch = await queue.receive(options.max - summary.replayed.length - summary.skipped.length);
    if (batch.length === 0) break;
    for (const [index, message] of batch.entries()) {
      if (done || message.sentAt >= startedAt || seen.has(message.messageId)) {
        done = true;
        await queue.release(message);
        continue;
      }
      seen.add(message.messageId);
      let letter: DeadLetter;
      try {
        letter = parseDeadLetter(JSON.parse(message.body));
      } catch (error) {
        const reason = error instanceof MatchbridgeError ? error.message : 'body is not JSON';
        logger.warn('skipping a message that is not a dead letter', { messageId: message.messageId, reason });
        summary.skipped.push({ messageId: message.messageId, reason });
        continue;
      }
      let outcome: ReplayOutcome;
      try {
        outcome = await replay(letter);
      } catch (error) {
        for (const rest of batch.slice(index)) await queue.release(rest);
        throw error;
      }
      await queue.delete(message);
      summary.replayed.push({ messageId: message.messageId, ...outcome });
    }
  }
  return summary;
}
