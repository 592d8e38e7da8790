import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const { pipeline } = synth();
const api = functionsByHandler(pipeline).api;
const dlqReplay = functionsByHandler(pipeline)['dlq-replay'];
const topicId = Object.keys(resourcesOf(pipeline, 'AWS::SNS::Topic'))[0];

describe('bulk HTTP API (REST API → api function)', () => {
  it('authorises every method with IAM', () => {
    const methods = Object.values(
      resourcesOf<{ AuthorizationType: string; HttpMethod: string }>(pipeline, 'AWS::ApiGateway::Method'),
    );
    assert.ok(methods.length > 0);
    for (const method of methods) assert.equal(method.Properties.AuthorizationType, 'AWS_IAM');
  });

  it('proxies to the api function with response streaming for up to 15 minutes', () => {
    assert.ok(api, 'an api function');
    const integrations = Object.values(
      resourcesOf<{
        Integration: { Type: string; ResponseTransferMode?: string; TimeoutInMillis?: number; Uri: unknown };
      }>(pipeline, 'AWS::ApiGateway::Method'),
    ).map((m) => m.Properties.Integration);
    for (const integration of integrations) {
      assert.equal(integration.Type, 'AWS_PROXY');
      assert.equal(integration.ResponseTransferMode, 'STREAM');
      assert.equal(integration.TimeoutInMillis, 15 * 60 * 1000);
      assert.match(JSON.stringify(integration.Uri), new RegExp(api.logicalId));
    }
  });

  it('lets the function invoke itself and start both kinds of imports, with the API limits set', () => {
    pipeline.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: { 'Fn::GetAtt': [api?.logicalId, 'Arn'] },
          }),
        ]),
      },
    });
    const env = api?.properties.Environment?.Variables ?? {};
    assert.ok(env[CONFIG_ENV.importStateMachineArn]);
    assert.ok(env[CONFIG_ENV.matchImportStateMachineArn]);
    assert.ok(env[CONFIG_ENV.idempotencyTable]);
    assert.equal(env[CONFIG_ENV.apiMaxBodyBytes], String(10 * 1024 * 1024));
  });

  it("shows operators the ingest dead-letter queue's depth and hands its replay to dlq-replay, nothing more", () => {
    pipeline.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [dlqReplay?.logicalId, 'Arn'] }]),
          }),
        ]),
      },
    });
    const env = api?.properties.Environment?.Variables ?? {};
    assert.deepEqual(env[CONFIG_ENV.dlqReplayFunction], { Ref: dlqReplay?.logicalId });
    assert.ok(env[CONFIG_ENV.ingestDlqUrl]);
    const apiPolicies = Object.values(
      resourcesOf<{ PolicyDocument: { Statement: Array<{ Action: string | string[] }> }; Roles: unknown }>(
        pipeline,
        'AWS::IAM::Policy',
      ),
    ).filter((policy) => JSON.stringify(policy.Properties.Roles).includes('Api'));
    const sqsActions = apiPolicies
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement.flatMap((s) => s.Action))
      .filter((action) => action.startsWith('sqs:'));
    assert.ok(sqsActions.includes('sqs:GetQueueAttributes'));
    assert.ok(!sqsActions.includes('sqs:ReceiveMessage'), 'the API never consumes the dead letters');
  });

  it('runs in the VPC like every function, and sends job runs that failed after two retries to an alarmed queue', () => {
    assert.ok((api?.properties.VpcConfig?.SubnetIds.length ?? 0) > 0);
    const [queueId] = Object.keys(resourcesOf(pipeline, 'AWS::SQS::Queue')).filter((id) =>
      id.startsWith('BulkApiJobFailures'),
    );
    assert.ok(queueId, 'a JobFailures queue');
    pipeline.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: api?.logicalId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 0,
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it("sets the account's API Gateway CloudWatch role, kept on delete, so a fresh account can log the stage", () => {
    const accounts = resourcesOf<{ CloudWatchRoleArn: { 'Fn::GetAtt': [string, string] } }>(
      pipeline,
      'AWS::ApiGateway::Account',
    );
    const [account] = Object.values(accounts);
    assert.equal(Object.keys(accounts).length, 1);
    const roleId = account?.Properties.CloudWatchRoleArn['Fn::GetAtt'][0] ?? '';
    const role = pipeline.toJSON().Resources[roleId];
    assert.equal(role?.Type, 'AWS::IAM::Role');
    assert.equal(role?.DeletionPolicy, 'Retain');
    assert.equal(pipeline.toJSON().Resources[Object.keys(accounts)[0] ?? '']?.DeletionPolicy, 'Retain');
    assert.match(JSON.stringify(role?.Properties.AssumeRolePolicyDocument), /apigateway\.amazonaws\.com/);
    assert.match(JSON.stringify(role?.Properties.ManagedPolicyArns), /AmazonAPIGatewayPushToCloudWatchLogs/);
    pipeline.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ LoggingLevel: 'ERROR', HttpMethod: '*' })]),
    });
  });

  it('logs every request to its access log, validates requests, and pages on repeated 5XX answers', () => {
    const [logGroupId] = Object.keys(resourcesOf(pipeline, 'AWS::Logs::LogGroup')).filter((id) =>
      id.startsWith('BulkApiAccessLogs'),
    );
    assert.ok(logGroupId, 'an access log group');
    const [stage] = Object.values(
      resourcesOf<{ AccessLogSetting?: { DestinationArn: unknown; Format: string } }>(
        pipeline,
        'AWS::ApiGateway::Stage',
      ),
    );
    const access = stage?.Properties.AccessLogSetting;
    assert.match(JSON.stringify(access?.DestinationArn), new RegExp(logGroupId));
    assert.match(access?.Format ?? '', /\$context\.identity\.user/);
    pipeline.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const method of Object.values(
      resourcesOf<{ RequestValidatorId?: unknown }>(pipeline, 'AWS::ApiGateway::Method'),
    )) {
      assert.ok(method.Properties.RequestValidatorId, 'each method has the validator');
    }
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      // The API's name is per environment, so two stacks in one account never read each other's errors.
      Dimensions: [{ Name: 'ApiName', Value: 'matchbridge-dev-pipeline-bulk-api' }],
      Threshold: 5,
      AlarmActions: [{ Ref: topicId }],
    });
  });
});
