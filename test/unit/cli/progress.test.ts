import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressLine } from '../../../lib/cli/progress.ts';
import type { JobProgressRead } from '../../../lib/jobs/job-progress.ts';
import { deriveProgress, type JobCounters } from '../../../lib/model/progress.ts';

const read = (counters: JobCounters): JobProgressRead => ({
  counters,
  progress: deriveProgress(counters),
  seq: 1,
});
const counters: JobCounters = {
  status: 'PROCESSING',
  total: 1_000_000,
  rowsDone: 250_000,
  rowsWritten: 249_000,
  rowsFailed: 1000,
  batchesDone: 3,
  batchesTotal: 12,
  startedAt: new Date('2026-01-01T00:00:00Z'),
  progressAt: new Date('2026-01-01T00:00:10Z'),
};

describe('the CLI progress line', () => {
  it('shows batches, rows of the total, rate, time left and failed rows from the job counters', () => {
    assert.equal(
      progressLine(read(counters)),
      'batches 3/12 · 250,000/1,000,000 rows (25.0%) · 25,000 rows/s · ETA 30s · 1,000 failed rows',
    );
  });

  it('shows unknowns as such before the plan and the first commit', () => {
    assert.equal(
      progressLine(
        read({
          ...counters,
          total: 0,
          rowsDone: 0,
          rowsWritten: 0,
          rowsFailed: 0,
          batchesDone: 0,
          batchesTotal: null,
          progressAt: null,
        }),
      ),
      'batches 0/? · 0/0 rows (0.0%) · 0 rows/s · ETA … · 0 failed rows',
    );
  });
});
