import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import type { Context } from 'aws-lambda';
import { type IdempotencyOptions, withIdempotency } from '../../../lib/aws/idempotent-starter.ts';
import { StorageUnavailableError } from '../../../lib/errors.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import type { DeadLetter, ExecutionStarter } from '../../../lib/model/ingest.ts';
import type { ImportExecutionInput } from '../../../lib/model/types.ts';
import {
  DYNALITE_CREDENTIALS,
  DYNALITE_REGION,
  startDynalite,
  type TestDynamo,
} from '../../support/dynalite.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';
const REQUEST = JSON.stringify({
  domainId: DOMAIN,
  groupId: 'dating',
  filePath: 's3://uploads/users.csv.gz',
});

/**
 * A starter that starts whatever it is asked to, every time — as Step Functions' StartExecution does for a
 * running execution of the same name and input. Only the idempotency layer can stop a second start here.
 */
function countingStarter(): ExecutionStarter & { inputs: ImportExecutionInput[] } {
  const inputs: ImportExecutionInput[] = [];
  return {
    inputs,
    async start(input) {
      inputs.push(input);
      return 'started';
    },
  };
}

const noDeadLetters = { async send(_letter: DeadLetter) {} };

/** An invocation context, as the handlers register it: in-progress records last the invocation. */
function invocation(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ingest',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/ingest',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The idempotent starter as a handler sets it up: wrapped, with the invocation registered. */
function idempotentStarter(starter: ExecutionStarter, options: IdempotencyOptions) {
  const wrapped = withIdempotency(starter, options);
  wrapped.registerLambdaContext(invocation());
  return wrapped;
}

describe('exactly-once job start with the Powertools idempotency layer (dynalite)', () => {
  let dynamo: TestDynamo;
  let options: IdempotencyOptions;

  before(async () => {
    dynamo = await startDynalite();
    options = {
      tableName: dynamo.tableName,
      ttlSeconds: 24 * 60 * 60,
      region: DYNALITE_REGION,
      endpoint: dynamo.endpoint,
      credentials: DYNALITE_CREDENTIALS,
    };
  });
  after(async () => {
    await dynamo.close();
  });

  it('starts a record delivered twice in one event, and again in a second event, once', async () => {
    const starter = countingStarter();
    const deps = {
      starter: idempotentStarter(starter, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    };
    const record = mskRecord(REQUEST, { topic: 'twice-users', offset: 42 });

    const first = await ingestRecords(mskEvent([record, record]), deps);
    const second = await ingestRecords(mskEvent([record]), deps);

    assert.equal(starter.inputs.length, 1);
    assert.deepEqual(
      [first.started.length, first.duplicates, second.started.length, second.duplicates],
      [1, 1, 0, 1],
    );
  });

  it('treats one idempotency-key header at two offsets as one job', async () => {
    const starter = countingStarter();
    const deps = {
      starter: idempotentStarter(starter, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    };
    const headers = { 'idempotency-key': 'export-2024-12-12-dating' };

    const outcome = await ingestRecords(
      mskEvent([
        mskRecord(REQUEST, { topic: 'keyed-users', offset: 1, headers }),
        mskRecord(REQUEST, { topic: 'keyed-users', offset: 2, headers }),
      ]),
      deps,
    );

    assert.equal(starter.inputs.length, 1);
    assert.equal(outcome.duplicates, 1);
  });

  it('shares the records between functions: a job started by one is a duplicate for another', async () => {
    const ingest = countingStarter();
    const replay = countingStarter();
    const record = mskRecord(REQUEST, { topic: 'shared-users', offset: 7 });

    await ingestRecords(mskEvent([record]), {
      starter: idempotentStarter(ingest, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    });
    const again = await ingestRecords(mskEvent([record]), {
      starter: idempotentStarter(replay, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    });

    assert.equal(ingest.inputs.length + replay.inputs.length, 1);
    assert.equal(again.duplicates, 1);
  });

  it('starts a job again once its record has expired', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const starter = countingStarter();
      const deps = {
        starter: idempotentStarter(starter, { ...options, ttlSeconds: 60 }),
        deadLetters: noDeadLetters,
        allowLocalFiles: false,
      };
      const record = mskRecord(REQUEST, { topic: 'expiring-users', offset: 3 });
      await ingestRecords(mskEvent([record]), deps);
      mock.timers.tick(30_000);
      const within = await ingestRecords(mskEvent([record]), deps);

      mock.timers.tick(31_000 + 1000);
      const after = await ingestRecords(mskEvent([record]), deps);

      assert.equal(within.duplicates, 1);
      assert.equal(after.started.length, 1);
      assert.equal(starter.inputs.length, 2);
    } finally {
      mock.timers.reset();
    }
  });

  it('frees the key when the start fails, so the retried batch starts the job', async () => {
    let failures = 1;
    const inner = countingStarter();
    const starter: ExecutionStarter = {
      async start(input) {
        if (failures-- > 0) throw new StorageUnavailableError('throttled');
        return inner.start(input);
      },
    };
    const deps = {
      starter: idempotentStarter(starter, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    };
    const event = mskEvent([mskRecord(REQUEST, { topic: 'retried-users', offset: 9 })]);

    const failed = await ingestRecords(event, deps);
    assert.deepEqual(failed.batchItemFailures, [
      { itemIdentifier: { partition: 'retried-users-0', offset: 9 } },
    ]);
    const retried = await ingestRecords(event, deps);

    assert.equal(retried.started.length, 1);
    assert.equal(inner.inputs.length, 1);
  });

  it('lets a twin that finds the start in progress defer to the execution name: one execution', async () => {
    const executions = new Set<string>();
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Step Functions' naming rule: an execution name starts once; this first start is slow to return.
    const starter: ExecutionStarter = {
      async start(input) {
        if (executions.has(input.jobId)) return 'duplicate';
        executions.add(input.jobId);
        entered();
        await gate;
        return 'started';
      },
    };
    const event = mskEvent([mskRecord(REQUEST, { topic: 'racing-users', offset: 5 })]);
    const deps = {
      starter: idempotentStarter(starter, options),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    };

    const first = ingestRecords(event, deps);
    // The starter runs only once its in-progress record is written: from here the twin finds it.
    await inside;
    const twin = await ingestRecords(event, deps);
    release();
    const original = await first;

    assert.equal(executions.size, 1);
    assert.equal(original.started.length, 1);
    assert.equal(twin.duplicates, 1);
  });

  it('without a table, leaves de-duplication to the execution name', async () => {
    const starter = countingStarter();
    const deps = {
      starter: withIdempotency(starter, undefined),
      deadLetters: noDeadLetters,
      allowLocalFiles: false,
    };
    const record = mskRecord(REQUEST, { topic: 'untracked-users', offset: 1 });

    await ingestRecords(mskEvent([record, record]), deps);

    assert.equal(starter.inputs.length, 2);
    assert.equal(starter.inputs[0]?.jobId, starter.inputs[1]?.jobId);
  });
});
