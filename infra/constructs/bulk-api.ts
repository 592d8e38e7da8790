import { Duration } from 'aws-cdk-lib';
import {
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  ResponseTransferMode,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import type { MatchbridgeFunction } from './matchbridge-function.ts';

export interface BulkApiProps {
  /** The `api` function: serves every route and runs the jobs it accepts. */
  readonly handler: MatchbridgeFunction;
  /** Largest request body accepted (API Gateway itself takes at most 10 MB). */
  readonly maxBodyBytes?: number;
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
 * not; up to 15 minutes). The function may invoke itself asynchronously to run accepted jobs.
 */
export class BulkApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: BulkApiProps) {
    super(scope, id);
    const { handler } = props;
    this.api = new RestApi(this, 'Api', {
      description: 'Matchbridge bulk import/export API (v1)',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: BINARY_MEDIA_TYPES,
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      deployOptions: { stageName: 'api', tracingEnabled: true },
    });
    const integration = new LambdaIntegration(handler, {
      proxy: true,
      responseTransferMode: ResponseTransferMode.STREAM,
      timeout: Duration.minutes(15),
    });
    this.api.root.addResource('v1').addProxy({ defaultIntegration: integration, anyMethod: true });
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
