import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * A Task state invoking `fn`, as every state machine of the pipeline does: the Task's Resource is the
 * function ARN itself and its result the handler's return value (what the local runner binds to the local
 * handler), retried by `retry` alone — CDK's default retry on Lambda service errors would add a second policy.
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
  }).addRetry(retry);
}
