import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';

const RETENTION = Duration.days(14);

/**
 * Where ingest puts what it cannot process, in two queues because they hold two different shapes:
 * - `records`: requests the ingest handler rejected, written by the handler itself as
 *   `{reason, topic, partition, offset, key, headers, value}` — what `dlq list` / `dlq replay` read;
 * - `failures`: batches the MSK event-source mapping could not deliver — its on-failure invocation
 *   records (batch metadata: topic, partition, offsets; not the payload).
 * Mixing them would make every consumer of the records queue parse foreign shapes.
 */
export class IngestDeadLetters extends Construct {
  readonly records: sqs.Queue;
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const queueProps: sqs.QueueProps = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: RETENTION,
    };
    this.records = new sqs.Queue(this, 'Records', queueProps);
    this.failures = new sqs.Queue(this, 'Failures', queueProps);
  }

  /** Lets a function dead-letter a request, and find the queue through INGEST_DLQ_URL. */
  bind(fn: lambda.Function): void {
    this.records.grantSendMessages(fn);
    fn.addEnvironment(CONFIG_ENV.ingestDlqUrl, this.records.queueUrl);
  }
}
