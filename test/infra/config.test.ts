import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildApp } from '../../infra/build-app.ts';
import { parseInfraConfig } from '../../infra/config.ts';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import { CONFIG_ENV, loadConfig } from '../../lib/config.ts';
import { NUMERIC_SETTINGS, type NumericSettingName } from '../../lib/settings.ts';

/** Runs `act` and returns the ConfigurationError it throws, failing when it throws nothing or another error. */
function configurationError(act: () => unknown): {
  code: string;
  message: string;
  details: { keys: string[] };
} {
  try {
    act();
  } catch (error) {
    assert.equal((error as Error).name, 'ConfigurationError');
    return error as { code: string; message: string; details: { keys: string[] } };
  }
  assert.fail('expected a ConfigurationError');
}

describe('infra configuration', () => {
  it('rejects mapConcurrency 0 at synth time, naming the context key', () => {
    const error = configurationError(() => buildApp({ context: { mapConcurrency: 0 }, skipBundling: true }));

    assert.equal(error.code, 'INVALID_CONFIGURATION');
    assert.deepEqual(error.details.keys, ['mapConcurrency']);
    assert.ok(error.message.includes('mapConcurrency'));
  });

  it('names nested keys with dots', () => {
    const error = configurationError(() =>
      parseInfraConfig({ functions: { 'load-batch': { timeoutSeconds: 901 } } }),
    );

    assert.deepEqual(error.details.keys, ['functions.load-batch.timeoutSeconds']);
  });

  it('names every missing attribute of an existing VPC', () => {
    const error = configurationError(() => parseInfraConfig({ vpc: { vpcId: 'vpc-0abc' } }));

    assert.deepEqual(error.details.keys.sort(), ['vpc.availabilityZones', 'vpc.privateSubnetIds']);
  });

  it('names every missing attribute of an existing database', () => {
    const error = configurationError(() => parseInfraConfig({ database: { mode: 'existing' } }));

    assert.deepEqual(error.details.keys.sort(), [
      'database.host',
      'database.secretArn',
      'database.securityGroupId',
    ]);
  });

  it('rejects a LoadBatch task timeout shorter than the load-batch Lambda timeout', () => {
    const error = configurationError(() => parseInfraConfig({ loadBatchTaskTimeoutSeconds: 60 }));

    assert.deepEqual(error.details.keys, ['loadBatchTaskTimeoutSeconds']);
  });

  it('rejects a typo inside a nested object instead of ignoring it', () => {
    const error = configurationError(() =>
      parseInfraConfig({ functions: { load_batch: { memoryMiB: 2048 } } }),
    );

    assert.deepEqual(error.details.keys, ['functions']);
  });

  it('accepts the string forms `-c key=value` produces', () => {
    const config = parseInfraConfig({
      mapConcurrency: '16',
      nodeImportTopics: 'a-users,b-users',
      vpc: '{"vpcId":"vpc-0abc","availabilityZones":["eu-west-1a"],"privateSubnetIds":["subnet-01"]}',
      database: {
        host: 'db.example',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
        securityGroupId: 'sg-0123',
      },
    });

    assert.equal(config.mapConcurrency, 16);
    assert.deepEqual(config.nodeImportTopics, ['a-users', 'b-users']);
    assert.equal(config.vpc.mode, 'existing');
    assert.equal(config.database.mode, 'existing');
  });

  it('keeps the defaults of cdk.json and of the schema identical', () => {
    const cdkJson = JSON.parse(readFileSync(`${PROJECT_ROOT}/cdk.json`, 'utf8')) as {
      context: Record<string, unknown>;
    };

    assert.deepEqual(parseInfraConfig(cdkJson.context), parseInfraConfig({}));
  });
});

/** Where a deploy takes each setting the functions share: its context path. */
const CONTEXT_PATHS: Record<NumericSettingName, readonly string[]> = {
  splitBytes: ['splitBytes'],
  maxBatches: ['maxBatches'],
  dbBatchRows: ['dbBatchRows'],
  matchBatchRows: ['matchBatchRows'],
  statusListCap: ['statusListCap'],
  toleratedFailurePercent: ['toleratedFailurePercent'],
  idempotencyTtlSeconds: ['idempotencyTtlSeconds'],
  exportMessageMaxBytes: ['userExport', 'messageMaxBytes'],
  exportBatchRows: ['userExport', 'batchRows'],
  exportRowsPerFunction: ['userExport', 'rowsPerFunction'],
};

function contextWith(path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  return { [head as string]: rest.length === 0 ? value : contextWith(rest, value) };
}

function deployValue(path: readonly string[], value?: number): number | undefined {
  try {
    let found: unknown = parseInfraConfig(value === undefined ? {} : contextWith(path, value));
    for (const key of path) found = (found as Record<string, unknown>)[key];
    return found as number;
  } catch {
    return undefined;
  }
}

function functionValue(name: NumericSettingName, value?: number): number | undefined {
  try {
    return loadConfig(value === undefined ? {} : { [CONFIG_ENV[name]]: String(value) })[name];
  } catch {
    return undefined;
  }
}

describe('settings shared by a deploy and its functions', () => {
  for (const [name, path] of Object.entries(CONTEXT_PATHS) as [NumericSettingName, readonly string[]][]) {
    it(`${path.join('.')}: the same default, and every value a deploy takes, ${CONFIG_ENV[name]} takes`, () => {
      assert.equal(deployValue(path), functionValue(name), 'the defaults');
      const { min, max } = NUMERIC_SETTINGS[name];
      for (const probe of [min - 1, min, min + 0.5, 1024 * 1024, max, max + 1, 10 * max]) {
        const deployed = deployValue(path, probe);
        if (deployed !== undefined) assert.equal(functionValue(name, deployed), probe, `${probe}`);
      }
      assert.equal(deployValue(path, max + 1), undefined, 'past the maximum');
    });
  }
});
