import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLER_NAMES } from '../../infra/config.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, synth } from './support/synth.ts';

const { pipeline, config } = synth();
const functions = functionsByHandler(pipeline);

/** Functions that only start imports, move dead letters or total an export run: no database access. */
const WITHOUT_DATABASE: readonly string[] = ['object-created', 'dlq-replay', 'export-summary'];

/** `nodejs24.x` → 24. */
const nodeMajor = (runtime: string): number => Number(/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? Number.NaN);

describe('pipeline functions', () => {
  it('has exactly one function per handler, tagged with matchbridge:handler metadata', () => {
    assert.deepEqual(Object.keys(functions).sort(), [...HANDLER_NAMES].sort());
  });

  for (const name of HANDLER_NAMES) {
    describe(name, () => {
      const fn = functions[name]?.properties;

      it('runs Node 24 or newer on ARM with active tracing, in the VPC, logging to its own group', () => {
        assert.ok(fn);
        assert.ok(nodeMajor(fn.Runtime) >= 24, `runtime ${fn.Runtime}`);
        assert.deepEqual(fn.Architectures, ['arm64']);
        assert.equal(fn.TracingConfig?.Mode, 'Active');
        assert.ok((fn.VpcConfig?.SubnetIds.length ?? 0) > 0);
        assert.ok(fn.LoggingConfig?.LogGroup);
        assert.equal(fn.Timeout, config.functions[name].timeoutSeconds);
        assert.equal(fn.MemorySize, config.functions[name].memoryMiB);
      });

      it('has the Powertools, pipeline and database environment', () => {
        const env = fn?.Environment?.Variables ?? {};
        assert.equal(env.POWERTOOLS_SERVICE_NAME, 'matchbridge');
        assert.equal(env.POWERTOOLS_METRICS_NAMESPACE, 'Matchbridge');
        assert.equal(env[CONFIG_ENV.splitBytes], String(16 * 1024 * 1024));
        assert.equal(env[CONFIG_ENV.maxBatches], '400');
        assert.equal(env[CONFIG_ENV.dbBatchRows], '20000');
        assert.equal(env[CONFIG_ENV.statusListCap], '1000');
        assert.equal(env[CONFIG_ENV.toleratedFailurePercent], '0');
        if (WITHOUT_DATABASE.includes(name)) {
          for (const key of [CONFIG_ENV.dbHost, CONFIG_ENV.dbSecretArn]) assert.equal(env[key], undefined);
          return;
        }
        // A new database's proxy takes IAM tokens: no function reads the secret.
        assert.ok(env[CONFIG_ENV.dbHost], 'DB_HOST is set');
        assert.equal(env[CONFIG_ENV.dbSecretArn], undefined);
        assert.equal(env[CONFIG_ENV.dbIamAuth], 'true');
        assert.equal(env[CONFIG_ENV.dbUser], name === 'migrate' ? 'matchbridge_migrator' : 'matchbridge_app');
        assert.equal(env[CONFIG_ENV.dbPort], '5432');
        assert.equal(env[CONFIG_ENV.dbName], 'matchbridge');
        assert.equal(env[CONFIG_ENV.dbSsl], 'require');
      });
    });
  }

  it('gives the staging bucket to the functions that read or write files (or stage lists), and only to them', () => {
    const withBucket = HANDLER_NAMES.filter(
      (name) => functions[name]?.properties.Environment?.Variables[CONFIG_ENV.stagingBucket],
    );

    assert.deepEqual(withBucket.sort(), [
      'api',
      'dlq-replay',
      'erase-batch',
      'fail-job',
      'finalize',
      'finalize-erasure',
      'ingest',
      'load-batch',
      'load-match-batch',
      'plan',
      'plan-erasure',
      'plan-matches',
    ]);
  });

  it('lets ingest start imports and dead-letter requests', () => {
    const env = functions.ingest?.properties.Environment?.Variables ?? {};

    assert.ok(env[CONFIG_ENV.importStateMachineArn]);
    assert.ok(env[CONFIG_ENV.ingestDlqUrl]);
  });

  it('gives the import starters, and only them, the state machine, the dead letters and the idempotency table', () => {
    const withStarter = HANDLER_NAMES.filter((name) => {
      const env = functions[name]?.properties.Environment?.Variables ?? {};
      return (
        env[CONFIG_ENV.importStateMachineArn] &&
        env[CONFIG_ENV.ingestDlqUrl] &&
        env[CONFIG_ENV.idempotencyTable] &&
        env[CONFIG_ENV.idempotencyTtlSeconds] === String(24 * 60 * 60)
      );
    });

    // The API starts the imports it accepts, and hands dead-letter replays to dlq-replay.
    assert.deepEqual(withStarter.sort(), ['api', 'dlq-replay', 'ingest', 'object-created']);
  });

  it('sets the pipeline tuning from context', () => {
    const tuned = functionsByHandler(
      synth({ splitBytes: 8 * 1024 * 1024, toleratedFailurePercent: 2.5 }).pipeline,
    );

    const env = tuned['load-batch']?.properties.Environment?.Variables ?? {};
    assert.equal(env[CONFIG_ENV.splitBytes], String(8 * 1024 * 1024));
    assert.equal(env[CONFIG_ENV.toleratedFailurePercent], '2.5');
  });
});
