import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetterSink } from '../model/ingest.ts';

/** The ingest dead-letter queue on AWS: one SQS message per record, the letter as JSON. */
export function sqsDeadLetters(queueUrl: string, region: string): DeadLetterSink {
  const client = new SQSClient({ region });
  return {
    async send(letter: DeadLetter) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(letter),
          MessageAttributes: {
            code: { DataType: 'String', StringValue: letter.code },
            topic: { DataType: 'String', StringValue: letter.topic },
          },
        }),
      );
    },
  };
}

/**
 * How many messages a queue holds: waiting, and received but not yet deleted. Approximate, as SQS says; the
 * only view of a queue that does not receive (and so hide) its messages.
 */
export async function queueDepth(
  queueUrl: string,
  region: string,
  client?: SQSClient,
): Promise<{ waiting: number; inFlight: number }> {
  const sqs = client ?? new SQSClient({ region });
  const { Attributes: attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    waiting: Number(attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
