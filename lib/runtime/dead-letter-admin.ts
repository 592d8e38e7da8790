import { InvocationType, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterAdmin } from '../api/dead-letter-admin.ts';
import { queueDepth } from '../aws/sqs-dead-letters.ts';
import type { Config } from '../config.ts';
import { ApiRequestError } from '../errors.ts';

/** The most letters one replay invocation handles (the dlq-replay function's own bound). */
const REPLAY_MAX = 1000;

/**
 * The ingest dead letters on AWS for the API's operators: the SQS queue's depth (SQS cannot be browsed
 * without receiving, and so hiding, its messages) and a replay of the pending letters handed to the
 * dlq-replay function, invoked asynchronously. `undefined` when the API has no queue configured.
 */
export function sqsDeadLetterAdmin(
  cfg: Pick<Config, 'ingestDlqUrl' | 'dlqReplayFunction' | 'awsRegion'>,
  clients: { readonly sqs?: SQSClient; readonly lambda?: LambdaClient } = {},
): DeadLetterAdmin | undefined {
  const { ingestDlqUrl: queueUrl, dlqReplayFunction: functionName, awsRegion: region } = cfg;
  if (!queueUrl) return undefined;
  const lambda = clients.lambda ?? new LambdaClient({ region });
  return {
    browsable: false,
    depth: () => queueDepth(queueUrl, region, clients.sqs),
    async replayAll() {
      if (!functionName) {
        throw new ApiRequestError(503, 'DEAD_LETTERS_UNAVAILABLE', 'no dlq-replay function is configured');
      }
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: InvocationType.Event,
          Payload: Buffer.from(JSON.stringify({ max: REPLAY_MAX })),
        }),
      );
      return { mode: 'invoked', functionName };
    },
  };
}
