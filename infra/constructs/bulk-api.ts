import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseTransferMode,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import type { MatchbridgeFunction } from './matchbridge-function.ts';

export interface BulkApiProps {
  /** The `api` function: serves every route and runs the jobs it accepts. */
  readonly handler: MatchbridgeFunction;
  /** Largest request body accepted (API Gateway itself takes at most 10 MB). */
  readonly maxBodyBytes?: number;
  /** Retention of the access log. */
  readonly logRetention: RetentionDays;
}

/** Media types API Gateway hands to the function base64-encoded rather than as text. */
const BINARY_MEDIA_TYPES = [
  'multipart/form-data',
  'application/vnd.apache.parquet',
  'application/octet-stream',
];

/** API Gateway's payload limit. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * The bulk HTTP API: a regional REST API with IAM authorisation on every method, proxying every path to the
 * `api` function with response streaming (REST APIs stream from functions inside a VPC, Function URLs do
 * not; up to 15 minutes). The function may invoke itself asynchronously to run accepted jobs; an invocation
 * that still fails after Lambda's two retries lands in {@link jobFailures}. Every request is in the access log.
 */
export class BulkApi extends Construct {
  readonly api: RestApi;
  /** Access log of the stage: one JSON line per request, with the caller's IAM identity. */
  readonly accessLogs: LogGroup;
  /** Asynchronous job runs (imports, exports) that failed after Lambda's retries. */
  readonly jobFailures: DeadLetterQueue;
  /** 5XX answers: the function failed or a dependency (the database, S3) was unavailable. */
  readonly serverErrorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BulkApiProps) {
    super(scope, id);
    const { handler } = props;
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new RestApi(this, 'Api', {
      // The metrics' ApiName dimension: one per environment, so the alarm and dashboard read only this one.
      restApiName: `${Stack.of(this).stackName}-bulk-api`,
      description: 'Matchbridge bulk import/export API (v1)',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: BINARY_MEDIA_TYPES,
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      // API Gateway refuses a stage with access logging until the account's CloudWatch Logs role is set, which
      // a fresh account lacks: set it (AWS::ApiGateway::Account), and keep it when the stack goes, since
      // every API of the account and region relies on it.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: 'api',
        tracingEnabled: true,
        // Errors only: the access log and the function's own lines carry the rest, without bodies.
        loggingLevel: MethodLoggingLevel.ERROR,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    // Checks the required parameters and modelled bodies API Gateway knows of before the function runs; the
    // function validates every body against lib/api/openapi.json itself.
    const requestValidator = this.api.addRequestValidator('Validator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new LambdaIntegration(handler, {
      proxy: true,
      responseTransferMode: ResponseTransferMode.STREAM,
      timeout: Duration.minutes(15),
    });
    // The validator is a method option CDK does not take from defaultMethodOptions: set on the method itself.
    this.api.root
      .addResource('v1')
      .addProxy({ defaultIntegration: integration, anyMethod: false })
      .addMethod('ANY', integration, { requestValidator });
    this.jobFailures = new DeadLetterQueue(this, 'JobFailures', {
      purpose: 'bulk API jobs whose asynchronous run failed after Lambda retried it twice',
    });
    handler.configureAsyncInvoke({
      onFailure: new SqsDestination(this.jobFailures),
      retryAttempts: 2,
    });
    // One 503 while the database restarts is retried by the client; several in five minutes are an outage.
    this.serverErrorAlarm = new cloudwatch.Alarm(this, 'ServerErrors', {
      alarmDescription: 'The bulk API answered 5XX at least 5 times in 5 minutes. See docs/runbook.md.',
      metric: this.api.metricServerError({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // A separate policy: the function's own default policy referencing its ARN would be a dependency cycle.
    new Policy(this, 'SelfInvoke', {
      roles: handler.role ? [handler.role] : [],
      statements: [
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [handler.functionArn] }),
      ],
    });
    handler.addEnvironment(
      CONFIG_ENV.apiMaxBodyBytes,
      String(Math.min(props.maxBodyBytes ?? API_GATEWAY_MAX_BODY_BYTES, API_GATEWAY_MAX_BODY_BYTES)),
    );
  }
}
