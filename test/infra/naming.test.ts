import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

describe('names operators look for', () => {
  const { pipeline } = synth({ envName: 'prod' });

  it('names the state machines and their log groups after the environment', () => {
    const machines = Object.values(
      resourcesOf<{ StateMachineName: string; LoggingConfiguration: unknown }>(
        pipeline,
        'AWS::StepFunctions::StateMachine',
      ),
    ).map((m) => m.Properties.StateMachineName);

    assert.deepEqual(machines.sort(), [
      'matchbridge-prod-erasure',
      'matchbridge-prod-import',
      'matchbridge-prod-match-import',
      'matchbridge-prod-user-export',
    ]);
    const logGroups = Object.values(resourcesOf<{ LogGroupName?: string }>(pipeline, 'AWS::Logs::LogGroup'))
      .map((g) => g.Properties.LogGroupName)
      .filter((name) => name?.startsWith('/aws/vendedlogs/states/'));
    assert.deepEqual(logGroups.sort(), [
      '/aws/vendedlogs/states/matchbridge-prod-erasure',
      '/aws/vendedlogs/states/matchbridge-prod-import',
      '/aws/vendedlogs/states/matchbridge-prod-match-import',
      '/aws/vendedlogs/states/matchbridge-prod-user-export',
    ]);
  });

  it('names every function matchbridge-<env>-<handler>, logging to /aws/lambda/<name>', () => {
    const functions = functionsByHandler(pipeline);
    const logGroupNames = new Set(
      Object.values(resourcesOf<{ LogGroupName?: string }>(pipeline, 'AWS::Logs::LogGroup')).map(
        (g) => g.Properties.LogGroupName,
      ),
    );

    for (const [handler, fn] of Object.entries(functions)) {
      assert.equal(fn.properties.FunctionName, `matchbridge-prod-${handler}`);
      assert.ok(logGroupNames.has(`/aws/lambda/matchbridge-prod-${handler}`), handler);
    }
    assert.equal(functions['load-batch']?.properties.FunctionName, 'matchbridge-prod-load-batch');
  });
});
