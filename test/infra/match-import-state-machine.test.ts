import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { MATCH_IMPORT_STATE_NAMES } from '../../infra/constructs/match-import-state-machine.ts';
import { localFunctionArn } from '../../infra/definitions.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { EXPECTED_IMPORT_TASK_RETRY } from './support/expected-retry.ts';
import { CLUSTER_ARN, machineStates } from './support/state-machine.ts';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

const N = MATCH_IMPORT_STATE_NAMES;
const built = synth({ mapConcurrency: 12 });
const { machine, definition, state } = machineStates(built, 'match-import', N.loadBatches);

describe('match import state machine definition', () => {
  it('runs PlanMatches → LoadMatchBatches (Distributed Map over $.plan.batches) → Finalize', () => {
    assert.equal(definition.StartAt, N.plan);
    assert.equal(state(N.plan).Next, N.loadBatches);
    assert.equal(state(N.loadBatches).Next, N.finalize);
    assert.equal(state(N.finalize).End, true);
    assert.equal(state(N.loadBatches).ItemsPath, '$.plan.batches');
    assert.equal(state(N.loadBatches).ItemProcessor?.ProcessorConfig?.Mode, 'DISTRIBUTED');
    assert.equal(state(N.loadBatches).MaxConcurrency, 12);
    assert.deepEqual(Object.keys(state(N.loadBatches).ItemSelector ?? {}).sort(), [
      'batch.$',
      'columns.$',
      'dbBatchRows.$',
      'domainId.$',
      'dryRun.$',
      'groupId.$',
      'jobId.$',
      'kind.$',
      'pin.$',
      'uri.$',
    ]);
  });

  it('binds each task to its handler', () => {
    assert.deepEqual(machine.taskHandlers, {
      [N.plan]: 'plan-matches',
      [N.loadBatch]: 'load-match-batch',
      [N.finalize]: 'finalize',
      [N.failJob]: 'fail-job',
    });
    assert.equal(state(N.loadBatch).Resource, localFunctionArn('load-match-batch'));
  });

  it('retries every task like the node import, and catches job failures into FailJob', () => {
    const retry = EXPECTED_IMPORT_TASK_RETRY;
    for (const name of [N.plan, N.loadBatch, N.finalize, N.failJob])
      assert.deepEqual(state(name).Retry, retry);
    for (const name of [N.plan, N.loadBatches, N.finalize]) {
      assert.deepEqual(state(name).Catch, [
        { ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.error', Next: N.failJob },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.failJob },
      ]);
    }
    assert.deepEqual(state(N.loadBatch).Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.batchFailed },
    ]);
    assert.equal(state(N.failJob).Next, N.jobFailed);
  });

  it('is accepted by the local runner', () => {
    assert.doesNotThrow(
      () =>
        new StateMachine(machine.definition as never, {
          validationOptions: { checkArn: false, checkPaths: false },
        }),
    );
  });
});

describe('match import resources', () => {
  it('gives the Parquet functions read access to the sources and the database settings', () => {
    const functions = functionsByHandler(built.pipeline);
    for (const name of ['plan-matches', 'load-match-batch']) {
      const env = functions[name]?.properties.Environment?.Variables ?? {};
      assert.ok(env[CONFIG_ENV.stagingBucket], name);
      assert.ok(env[CONFIG_ENV.matchBatchRows], name);
    }
  });

  it('creates a mapping per match topic onto ingest, with the same on-failure destination as nodes', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users'],
      matchImportTopics: ['eu-matches', 'us-matches'],
      erasureTopics: ['eu-erasures'],
    });
    const mappings = Object.values(resourcesOf(pipeline, 'AWS::Lambda::EventSourceMapping')).map(
      (m) => m.Properties as { Topics: string[]; DestinationConfig: unknown },
    );
    assert.deepEqual(mappings.map((m) => m.Topics).sort(), [
      ['eu-erasures'],
      ['eu-matches'],
      ['eu-users'],
      ['us-matches'],
    ]);
    const destinations = new Set(mappings.map((m) => JSON.stringify(m.DestinationConfig)));
    assert.equal(destinations.size, 1);
    const ingestEnv = functionsByHandler(pipeline).ingest?.properties.Environment?.Variables ?? {};
    assert.equal(ingestEnv[CONFIG_ENV.matchImportTopics], 'eu-matches,us-matches');
  });
});
