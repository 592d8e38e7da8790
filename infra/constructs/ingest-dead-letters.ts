import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/**
 * Where ingest puts what it cannot process, in two queues because they hold two different shapes:
 * - `records`: requests the ingest and object-created handlers rejected, written by the handlers themselves
 *   as `{reason, code, topic, partition, offset, key, headers, value, valueEncoding}` — what the dlq-replay
 *   function reads;
 * - `failures`: what could not be delivered at all — the MSK event-source mapping's on-failure invocation
 *   records (batch metadata: topic, partition, offsets; not the payload), and upload events EventBridge or
 *   the object-created function's asynchronous invocation gave up on.
 * Mixing them would make every consumer of the records queue parse foreign shapes.
 */
export class IngestDeadLetters extends Construct {
  readonly records: DeadLetterQueue;
  readonly failures: DeadLetterQueue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.records = new DeadLetterQueue(this, 'Records', {
      purpose: 'import requests ingest rejected (replay with dlq-replay)',
    });
    this.failures = new DeadLetterQueue(this, 'Failures', {
      purpose: 'MSK batches and upload events that could not be delivered to ingest',
    });
  }

  /** Lets a function dead-letter a request, and find the queue through INGEST_DLQ_URL. */
  bind(fn: lambda.Function): void {
    this.records.grantSendMessages(fn);
    fn.addEnvironment(CONFIG_ENV.ingestDlqUrl, this.records.queueUrl);
  }

  /**
   * Lets the API show the operators how many letters wait (INGEST_DLQ_URL, GetQueueAttributes only: it
   * neither receives nor sends) and hand their replay to `replayer` (DLQ_REPLAY_FUNCTION, invoke).
   */
  bindOperator(fn: lambda.Function, replayer: lambda.Function): void {
    this.records.grant(fn, 'sqs:GetQueueAttributes');
    fn.addEnvironment(CONFIG_ENV.ingestDlqUrl, this.records.queueUrl);
    replayer.grantInvoke(fn);
    fn.addEnvironment(CONFIG_ENV.dlqReplayFunction, replayer.functionName);
  }

  /** Lets a function replay the letters: receive and delete them, and dead-letter again what is still bad. */
  bindReplayer(fn: lambda.Function): void {
    this.bind(fn);
    this.records.grantConsumeMessages(fn);
  }
}
