import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { IMPORT_STATE_NAMES } from '../../infra/constructs/import-state-machine.ts';
import { localFunctionArn } from '../../infra/definitions.ts';
import { EXPECTED_IMPORT_TASK_RETRY } from './support/expected-retry.ts';
import { machineStates } from './support/state-machine.ts';
import { resourcesOf, synth } from './support/synth.ts';

const N = IMPORT_STATE_NAMES;
const built = synth();
const { definition, state } = machineStates(built, 'import', N.loadBatches);

const EXPECTED_RETRY = EXPECTED_IMPORT_TASK_RETRY;
// States.ALL does not match States.DataLimitExceeded: it has a catcher of its own, first.
const CATCH_TO_FAIL_JOB = [
  { ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.error', Next: N.failJob },
  { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.failJob },
];

describe('import state machine definition', () => {
  it('runs Plan → LoadBatches → Finalize', () => {
    assert.equal(definition.StartAt, N.plan);
    assert.equal(state(N.plan).Next, N.loadBatches);
    assert.equal(state(N.loadBatches).Next, N.finalize);
    assert.equal(state(N.finalize).End, true);
  });

  it('retries every task 3 times from 1 s, doubling, at most 10 s apart', () => {
    for (const name of [N.plan, N.loadBatch, N.finalize, N.failJob]) {
      assert.deepEqual(state(name).Retry, EXPECTED_RETRY, name);
    }
  });

  it('sends any failure of Plan, LoadBatches and Finalize to FailJob with the error in $.error', () => {
    for (const name of [N.plan, N.loadBatches, N.finalize]) {
      assert.deepEqual(state(name).Catch, CATCH_TO_FAIL_JOB, name);
    }
  });

  it('invokes each Lambda directly (payloadResponseOnly) and keeps the state around the results', () => {
    assert.equal(state(N.plan).Resource, localFunctionArn('plan'));
    assert.equal(state(N.plan).ResultPath, '$.plan');
    assert.equal(state(N.loadBatch).Resource, localFunctionArn('load-batch'));
    assert.equal(state(N.finalize).Resource, localFunctionArn('finalize'));
    assert.equal(state(N.finalize).ResultPath, '$.status');
    assert.equal(state(N.failJob).Resource, localFunctionArn('fail-job'));
    assert.equal(state(N.failJob).ResultPath, null);
    assert.equal(state(N.failJob).Next, N.jobFailed);
  });

  it('binds each Task state, nested ones included, to its handler', () => {
    assert.deepEqual(built.importMachine.taskHandlers, {
      [N.plan]: 'plan',
      [N.loadBatch]: 'load-batch',
      [N.finalize]: 'finalize',
      [N.failJob]: 'fail-job',
    });
  });

  it('fans the planned batches out in a Distributed Map that reads them from the state', () => {
    const map = state(N.loadBatches);

    assert.equal(map.Type, 'Map');
    assert.equal(map.ItemsPath, '$.plan.batches');
    assert.equal(map.ResultPath, '$.results');
    assert.equal(map.MaxConcurrency, 8);
    assert.deepEqual(map.ItemProcessor?.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    assert.deepEqual(map.ItemSelector, {
      'jobId.$': '$.jobId',
      'kind.$': '$.kind',
      'domainId.$': '$.domainId',
      'groupId.$': '$.groupId',
      'header.$': '$.plan.header',
      'referenceColumn.$': '$.plan.referenceColumn',
      'pin.$': '$.plan.pin',
      'dbBatchRows.$': '$.plan.dbBatchRows',
      'dryRun.$': '$.plan.dryRun',
      'batch.$': '$$.Map.Item.Value',
    });
    for (const unsupported of [
      'ItemReader',
      'ItemBatcher',
      'ResultWriter',
      'ToleratedFailurePercentage',
      'ToleratedFailureCount',
    ]) {
      assert.equal(map[unsupported], undefined, `${unsupported} is not used (the local runner lacks it)`);
    }
  });

  it('turns a batch that failed after its retries into a FAILED result instead of failing the Map', () => {
    const loadBatch = state(N.loadBatch);
    assert.deepEqual(loadBatch.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.batchFailed },
    ]);
    assert.equal(loadBatch.TimeoutSeconds, built.config.loadBatchTaskTimeoutSeconds);

    const batchFailed = state(N.batchFailed);
    assert.equal(batchFailed.Type, 'Pass');
    assert.equal(batchFailed.End, true);
    assert.deepEqual(batchFailed.Parameters, {
      'index.$': '$.batch.index',
      status: 'FAILED',
      rows: 0,
      inserted: 0,
      updated: 0,
      duplicates: 0,
      failed: 0,
      'error.$': '$.error.Error',
    });
  });

  it('ends a failed job in a Fail state reporting the caught error', () => {
    const jobFailed = state(N.jobFailed);

    assert.equal(jobFailed.Type, 'Fail');
    assert.equal(jobFailed.ErrorPath, '$.error.Error');
    assert.equal(jobFailed.CausePath, '$.error.Cause');
  });

  it('times out after 6 hours by default', () => {
    assert.equal(definition.TimeoutSeconds, 6 * 60 * 60);
  });

  it('takes MaxConcurrency from context', () => {
    const tuned = synth({ mapConcurrency: 32 }).importMachine.definition as unknown as typeof definition;

    assert.equal(tuned.States[N.loadBatches]?.MaxConcurrency, 32);
  });

  it('is accepted by the local runner (aws-local-stepfunctions) with the options it runs with', () => {
    assert.doesNotThrow(
      () =>
        new StateMachine(built.importMachine.definition, {
          validationOptions: { checkArn: false, checkPaths: false },
        }),
    );
  });
});

describe('import state machine resource', () => {
  const [machine, ...others] = Object.values(
    resourcesOf(built.pipeline, 'AWS::StepFunctions::StateMachine'),
  ).filter((resource) => resource.Metadata?.['matchbridge:state-machine'] === 'import');

  it('is one STANDARD state machine tagged matchbridge:state-machine=import', () => {
    assert.equal(others.length, 0);
    assert.equal(machine?.Properties.StateMachineType, 'STANDARD');
    assert.equal(machine?.Metadata?.['matchbridge:state-machine'], 'import');
  });

  it('logs errors with execution data to its log group and traces with X-Ray', () => {
    const logging = machine?.Properties.LoggingConfiguration as {
      Level: string;
      IncludeExecutionData: boolean;
      Destinations: unknown[];
    };
    assert.equal(logging.Level, 'ERROR');
    assert.equal(logging.IncludeExecutionData, true);
    assert.equal(logging.Destinations.length, 1);
    assert.deepEqual(machine?.Properties.TracingConfiguration, { Enabled: true });
  });
});
