import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveProgress, type JobCounters } from '../../../lib/model/progress.ts';

const started = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number) => new Date(started.getTime() + seconds * 1000);
const running: JobCounters = {
  status: 'PROCESSING',
  total: 10_000,
  rowsDone: 2500,
  rowsWritten: 2490,
  rowsFailed: 10,
  batchesDone: 1,
  batchesTotal: 4,
  startedAt: started,
  progressAt: at(5),
};

describe('deriveProgress', () => {
  it('gives rows done of the total, the rate since the start and the time left at that rate', () => {
    assert.deepEqual(deriveProgress(running), {
      rowsDone: 2500,
      rowsWritten: 2490,
      rowsFailed: 10,
      batchesDone: 1,
      batchesTotal: 4,
      percentage: 25,
      rowsPerSecond: 500,
      etaSeconds: 15,
    });
  });

  it('falls back on batches done of planned while the total is unknown, with no time left to tell', () => {
    const progress = deriveProgress({ ...running, total: 0, batchesDone: 3, batchesTotal: 8 });
    assert.deepEqual([progress.percentage, progress.etaSeconds], [37.5, null]);
  });

  it('says nothing of rate or time left before the counters first move', () => {
    const progress = deriveProgress({
      ...running,
      rowsDone: 0,
      rowsWritten: 0,
      rowsFailed: 0,
      progressAt: null,
    });
    assert.deepEqual([progress.percentage, progress.rowsPerSecond, progress.etaSeconds], [0, 0, null]);
  });

  it('ends at 100% with no time left once COMPLETED, and never passes 100%', () => {
    const done = deriveProgress({ ...running, status: 'COMPLETED', total: 0, batchesTotal: null });
    assert.deepEqual([done.percentage, done.etaSeconds], [100, 0]);
    assert.equal(deriveProgress({ ...running, rowsDone: 12_000 }).percentage, 100);
    const failed = deriveProgress({ ...running, status: 'FAILED' });
    assert.deepEqual([failed.percentage, failed.etaSeconds], [25, 0]);
  });
});
