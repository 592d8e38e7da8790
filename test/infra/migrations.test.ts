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

  it('runs before every state machine and every function but migrate is created or updated', () => {
    for (const machineId of Object.keys(resourcesOf(pipeline, 'AWS::StepFunctions::StateMachine'))) {
      assert.ok(dependsOn(machineId).includes(String(migrationsId)), machineId);
    }
    const waiting = Object.entries(functions).filter(([, fn]) =>
      dependsOn(fn.logicalId).includes(String(migrationsId)),
    );

    assert.deepEqual(waiting.map(([name]) => name).sort(), [
      'api',
      'dlq-replay',
      'erase-batch',
      'export-group',
      'export-group-failed',
      'export-plan',
      'export-summary',
      'fail-job',
      'finalize',
      'finalize-erasure',
      'ingest',
      'load-batch',
      'load-match-batch',
      'object-created',
      'plan',
      'plan-erasure',
      'plan-matches',
      'prune',
    ]);
  });

  it('runs again when the migrations or the role setup change, each by its own fingerprint', () => {
    const properties = pipeline.toJSON().Resources[migrationsId ?? ''].Properties as Record<string, unknown>;

    assert.match(String(properties.MigrationsFingerprint), /^[0-9a-f]{64}$/);
    assert.match(String(properties.RoleSetupFingerprint), /^[0-9a-f]{64}$/);
    assert.notEqual(properties.RoleSetupFingerprint, properties.MigrationsFingerprint);
  });
});
