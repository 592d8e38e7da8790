import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const { pipeline } = synth();
const functions = functionsByHandler(pipeline);
const [migrationsId, ...others] = Object.keys(resourcesOf(pipeline, 'Custom::MatchbridgeMigrations'));

const dependsOn = (logicalId: string | undefined): string[] => {
  const resource = pipeline.toJSON().Resources[logicalId ?? ''] as { DependsOn?: string[] } | undefined;
  assert.ok(resource, `resource ${logicalId} exists`);
  return resource.DependsOn ?? [];
};

describe('migrations on deploy', () => {
  it('is one custom resource backed by the migrate function', () => {
    assert.ok(migrationsId);
    assert.equal(others.length, 0);
    const provider = Object.entries(resourcesOf(pipeline, 'AWS::Lambda::Function')).find(([id]) =>
      id.includes('framework'),
    );
    assert.ok(provider, 'the Provider framework function exists');
    const providerEnv = JSON.stringify(provider[1].Properties.Environment);
    assert.ok(
      providerEnv.includes(String(functions.migrate?.logicalId)),
      'the provider calls the migrate function',
    );
  });

  it('runs once the migrate function and its network rule to the database exist', () => {
    const deps = dependsOn(migrationsId);

    const migrateIngress = Object.keys(resourcesOf(pipeline, 'AWS::EC2::SecurityGroupIngress')).filter((id) =>
      id.startsWith('Migrate'),
    );
    assert.equal(migrateIngress.length, 1);
    assert.ok(deps.includes(String(functions.migrate?.logicalId)));
    assert.ok(deps.includes(String(migrateIngress[0])));
  });

  it('runs before the state machine and the ingest function exist', () => {
    const machineId = Object.keys(resourcesOf(pipeline, 'AWS::StepFunctions::StateMachine'))[0];

    assert.ok(dependsOn(machineId).includes(String(migrationsId)));
    assert.ok(dependsOn(functions.ingest?.logicalId).includes(String(migrationsId)));
  });
});
