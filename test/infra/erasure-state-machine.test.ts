import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { ERASURE_STATE_NAMES } from '../../infra/constructs/erasure-state-machine.ts';
import { localFunctionArn } from '../../infra/definitions.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { EXPECTED_IMPORT_TASK_RETRY } from './support/expected-retry.ts';
import { CLUSTER_ARN, machineStates } from './support/state-machine.ts';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

const N = ERASURE_STATE_NAMES;
const built = synth({ mapConcurrency: 6 });
const { machine, definition, state } = machineStates(built, 'erasure', N.loadBatches);

describe('erasure state machine definition', () => {
  it('runs PlanErasure → EraseBatches (Distributed Map over $.plan.batches) → FinalizeErasure', () => {
    assert.equal(definition.StartAt, N.plan);
    assert.equal(state(N.plan).Next, N.loadBatches);
    assert.equal(state(N.loadBatches).Next, N.finalize);
    assert.equal(state(N.finalize).End, true);
    assert.equal(state(N.loadBatches).ItemsPath, '$.plan.batches');
    assert.equal(state(N.loadBatches).ItemProcessor?.ProcessorConfig?.Mode, 'DISTRIBUTED');
    assert.equal(state(N.loadBatches).MaxConcurrency, 6);
    // Each batch learns whether every group is erased, and the list's header.
    assert.equal(state(N.loadBatches).ItemSelector?.['everyGroup.$'], '$.everyGroup');
    assert.equal(state(N.loadBatches).ItemSelector?.['referenceColumn.$'], '$.plan.referenceColumn');
  });

  it('binds its tasks to the erasure functions; finalize and the catch-all are one function', () => {
    assert.deepEqual(machine.taskHandlers, {
      [N.plan]: 'plan-erasure',
      [N.loadBatch]: 'erase-batch',
      [N.finalize]: 'finalize-erasure',
      [N.failJob]: 'finalize-erasure',
    });
    assert.equal(state(N.loadBatch).Resource, localFunctionArn('erase-batch'));
  });

  it('retries and catches like the imports: a failed batch is a result, a failed job goes to FailErasure', () => {
    for (const name of [N.plan, N.loadBatch, N.finalize, N.failJob]) {
      assert.deepEqual(state(name).Retry, EXPECTED_IMPORT_TASK_RETRY);
    }
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

  it('bounds its plan, finalize and catch-all by the functions’ timeout, not the local runner’s 60 s default', () => {
    for (const name of [N.plan, N.finalize, N.failJob]) {
      assert.equal((state(name) as { TimeoutSeconds?: number }).TimeoutSeconds, 900 + 60, name);
    }
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

describe('erasure resources', () => {
  const functions = functionsByHandler(built.pipeline);

  it('lets ingest, replay and the API start erasures', () => {
    for (const name of ['ingest', 'dlq-replay', 'api']) {
      assert.ok(functions[name]?.properties.Environment?.Variables[CONFIG_ENV.erasureStateMachineArn], name);
    }
    assert.equal(
      functions['object-created']?.properties.Environment?.Variables[CONFIG_ENV.erasureStateMachineArn],
      undefined,
    );
  });

  it('creates a mapping per erasure topic onto ingest, and tells ingest the topics', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users'],
      matchImportTopics: ['eu-matches'],
      erasureTopics: ['eu-erasures', 'us-erasures'],
    });
    const topics = Object.values(resourcesOf(pipeline, 'AWS::Lambda::EventSourceMapping')).map(
      (m) => (m.Properties as { Topics: string[] }).Topics,
    );
    assert.deepEqual(topics.sort(), [['eu-erasures'], ['eu-matches'], ['eu-users'], ['us-erasures']]);
    const ingestEnv = functionsByHandler(pipeline).ingest?.properties.Environment?.Variables ?? {};
    assert.equal(ingestEnv[CONFIG_ENV.erasureTopics], 'eu-erasures,us-erasures');
  });
});
