import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
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
