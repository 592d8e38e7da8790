import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IMPORT_STATE_NAMES } from '../../infra/constructs/import-state-machine.ts';
import { runSynthesizedMachine } from '../../lib/local/local-runner.ts';
import { NUMERIC_SETTINGS } from '../../lib/settings.ts';
import { synth } from './support/synth.ts';

/** Step Functions' limit on a state's input and output (256 KiB), written out rather than taken from the code. */
const STATE_PAYLOAD_LIMIT = 262_144;
/** The most batches a plan may cut: the ceiling of `maxBatches` (400 by default, at most 600). */
const MAX_BATCHES = 600;
/** Step Functions' limit on an error cause: the longest a failed batch can report. */
const LONGEST_CAUSE = 32_768;

describe('the import state machine with every batch failing', () => {
  it(`keeps the state under 256 KiB with ${MAX_BATCHES} batches failing with the longest causes`, async () => {
    // A ceiling raised past the figure tested here would leave the larger states untested.
    assert.equal(NUMERIC_SETTINGS.maxBatches.max, MAX_BATCHES);
    const { importMachine } = synth();
    const N = IMPORT_STATE_NAMES;
    let finalizeInput: unknown;
    const input = {
      jobId: '0b8a4b8e-1c1d-4e0f-9a55-3f1f3a0e2c11',
      kind: 'nodes',
      domainId: 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80',
      groupId: 'dating',
      source: { uri: 's3://uploads/users.csv' },
    };

    const outcome = await runSynthesizedMachine(importMachine, input, {
      executionName: input.jobId,
      executionArn: `arn:aws:states:local:000000000000:execution:import:${input.jobId}`,
      invokeTask: async (stateName, _handler, taskInput) => {
        if (stateName === N.plan) {
          return {
            header: ['reference_id', 'name'],
            referenceColumn: 0,
            total: MAX_BATCHES * 1000,
            dbBatchRows: 20_000,
            pin: { size: 400_000_000, etag: '"0123456789abcdef0123456789abcdef"' },
            dryRun: false,
            batches: Array.from({ length: MAX_BATCHES }, (_, index) => ({
              index,
              uri: 's3://uploads/users.csv',
              start: index * 1_000_000,
              end: (index + 1) * 1_000_000,
              firstLine: index * 1000 + 2,
              records: 1000,
            })),
          };
        }
        if (stateName === N.loadBatch) {
          const error = new Error('x'.repeat(LONGEST_CAUSE));
          error.name = 'InvalidFileError';
          throw error;
        }
        if (stateName === N.finalize) {
          finalizeInput = taskInput;
          return { status: 'FAILED' };
        }
        throw new Error(`unexpected state ${stateName}`);
      },
    });

    assert.equal(outcome.status, 'SUCCEEDED');
    const state = finalizeInput as { results: Array<Record<string, unknown>> };
    assert.equal(state.results.length, MAX_BATCHES);
    assert.deepEqual(state.results[0], {
      index: 0,
      status: 'FAILED',
      rows: 0,
      inserted: 0,
      updated: 0,
      duplicates: 0,
      failed: 0,
      error: 'InvalidFileError',
    });
    const size = Buffer.byteLength(JSON.stringify(finalizeInput));
    assert.ok(size < STATE_PAYLOAD_LIMIT, `the state Finalize gets is ${size} bytes`);
  });
});
