import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * Lambda's throttling, when the function's reserved concurrency is taken (several jobs' Maps at once share
 * it): waited out for some 15 minutes, with full jitter so that the waiting batches do not return together,
 * rather than failing a batch after the few seconds of the transient-error policy.
 */
export const THROTTLE_RETRY: sfn.RetryProps = {
  errors: ['Lambda.TooManyRequestsException'],
  maxAttempts: 20,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * A Task state invoking `fn`, as every state machine of the pipeline does: the Task's Resource is the
 * function ARN itself and its result the handler's return value (what the local runner binds to the local
 * handler), retried by `retry` and {@link THROTTLE_RETRY} alone — CDK's default retry on Lambda service errors
 * would add a policy of its own.
 */
export function lambdaTask(
  scope: Construct,
  name: string,
  fn: lambda.IFunction,
  retry: sfn.RetryProps,
  options: Partial<tasks.LambdaInvokeJsonPathProps> = {},
): sfn.TaskStateBase {
  return tasks.LambdaInvoke.jsonPath(scope, name, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    ...options,
  })
    .addRetry(retry)
    .addRetry(THROTTLE_RETRY);
}
