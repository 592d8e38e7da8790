import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../lib/config.ts';
import { exportFileLocation } from '../../../lib/export/export-file.ts';
import { requireHandlerConfig } from '../../../lib/runtime/handler-config.ts';
import { pipelineObjectUri } from '../../../lib/storage/staging.ts';

/** What a function on AWS gets besides the variable a test leaves out. */
const COMPLETE = {
  DB_HOST: 'proxy.example',
  STAGING_BUCKET: 'staging',
  STATUS_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/status',
  IMPORT_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:import',
  INGEST_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ingest',
  KAFKA_BROKERS: 'b-1.example:9098',
};

/** A configuration as on AWS (not local mode) without `variable`. */
const without = (variable: keyof typeof COMPLETE) => {
  const { [variable]: _left, ...rest } = COMPLETE;
  return loadConfig(rest);
};

/** Asserts a ConfigurationError whose message names `variable`. */
const namesVariable = (variable: string) => (error: unknown) => {
  assert.equal((error as Error).name, 'ConfigurationError');
  assert.match((error as Error).message, new RegExp(`\\b${variable}\\b`));
  return true;
};

describe('a function checks its configuration at cold start', () => {
  const cases = [
    ['plan', 'STAGING_BUCKET'],
    ['load-batch', 'STAGING_BUCKET'],
    ['plan-matches', 'STAGING_BUCKET'],
    ['load-match-batch', 'STAGING_BUCKET'],
    ['finalize', 'STATUS_DLQ_URL'],
    ['fail-job', 'STATUS_DLQ_URL'],
    ['finalize', 'DB_HOST'],
    ['ingest', 'INGEST_DLQ_URL'],
    ['object-created', 'IMPORT_STATE_MACHINE_ARN'],
    ['dlq-replay', 'STAGING_BUCKET'],
    ['export-group', 'KAFKA_BROKERS'],
    ['export-group', 'STAGING_BUCKET'],
    ['api', 'STAGING_BUCKET'],
    ['migrate', 'DB_HOST'],
  ] as const;
  for (const [handler, variable] of cases) {
    it(`${handler} fails without ${variable}, naming it`, () => {
      const cfg = without(variable);

      assert.throws(() => requireHandlerConfig(handler, cfg), namesVariable(variable));
    });
  }

  it('passes a complete configuration through', () => {
    const cfg = loadConfig(COMPLETE);

    assert.equal(requireHandlerConfig('finalize', cfg), cfg);
  });

  it('takes DATABASE_URL in place of DB_HOST', () => {
    const { DB_HOST: _host, ...rest } = COMPLETE;
    const cfg = loadConfig({ ...rest, DATABASE_URL: 'postgres://db/matchbridge' });

    assert.equal(requireHandlerConfig('plan', cfg), cfg);
  });

  it('leaves local mode to its entry points (no bucket, no queue)', () => {
    const cfg = loadConfig({ MATCHBRIDGE_LOCAL: 'true' });

    assert.equal(requireHandlerConfig('finalize', cfg), cfg);
  });
});

describe('no local folder in place of a bucket on AWS', () => {
  it('a pipeline object needs STAGING_BUCKET', () => {
    assert.throws(
      () => pipelineObjectUri(without('STAGING_BUCKET'), 'reports', 'job', 'failed.csv'),
      namesVariable('STAGING_BUCKET'),
    );
  });

  it('an export file needs EXPORT_BUCKET (or the staging bucket)', () => {
    const group = { domainId: 'd', groupId: 'g' };

    assert.throws(
      () => exportFileLocation(without('STAGING_BUCKET'), group, '2025-01-01'),
      namesVariable('EXPORT_BUCKET'),
    );
    assert.match(exportFileLocation(loadConfig(COMPLETE), group, '2025-01-01').uri, /^s3:\/\/staging\//);
  });

  it('local mode keeps them under its home folder', () => {
    const cfg = loadConfig({ MATCHBRIDGE_LOCAL: 'true', MATCHBRIDGE_HOME: '/tmp/mb-home' });

    assert.equal(
      pipelineObjectUri(cfg, 'reports', 'job', 'failed.csv'),
      '/tmp/mb-home/objects/reports/job/failed.csv',
    );
  });
});
