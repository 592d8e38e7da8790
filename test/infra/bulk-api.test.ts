import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const { pipeline } = synth();
const api = functionsByHandler(pipeline).api;

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
});
