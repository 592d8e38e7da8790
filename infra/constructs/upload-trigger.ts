import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface UploadTriggerProps {
  /** The bucket whose uploads start imports; it must send its events to EventBridge. */
  readonly bucket: s3.IBucket;
  /** Key prefix of the uploads, e.g. `incoming/nodes/`. */
  readonly prefix: string;
  /** The object-created function: starts one import per upload. */
  readonly handler: lambda.Function;
  /** Receives the events that could not be delivered to the function, or that it failed on. */
  readonly failures: sqs.IQueue;
}

/**
 * S3 → EventBridge → Lambda: an "Object Created" event of the bucket under the prefix invokes the handler.
 * Two layers of delivery failure both land in `failures`: EventBridge's target dead-letter queue (the
 * invoke itself failed after its retries) and the function's asynchronous on-failure destination (the
 * function threw on every attempt, e.g. Step Functions unavailable).
 */
export class UploadTrigger extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: UploadTriggerProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'ObjectCreated', {
      description: `Starts an import for each object created under ${props.prefix}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: events.Match.prefix(props.prefix) },
        },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(props.handler, {
        deadLetterQueue: props.failures,
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
      }),
    );
    props.handler.configureAsyncInvoke({
      onFailure: new SqsDestination(props.failures),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
  }
}
