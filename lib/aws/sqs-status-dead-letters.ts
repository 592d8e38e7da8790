import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { StatusDeadLetter, StatusDeadLetterSink } from '../model/status.ts';

/** The status dead-letter queue on AWS: one SQS message per undeliverable status message, the letter as JSON. */
export function sqsStatusDeadLetters(queueUrl: string, region: string): StatusDeadLetterSink {
  let client: SQSClient | undefined;
  return {
    async send(letter: StatusDeadLetter) {
      client ??= new SQSClient({ region });
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ ...letter, deadLetteredAt: new Date().toISOString() }),
          MessageAttributes: {
            jobId: { DataType: 'String', StringValue: letter.message.jobId },
            destination: { DataType: 'String', StringValue: letter.destination },
          },
        }),
      );
    },
  };
}
