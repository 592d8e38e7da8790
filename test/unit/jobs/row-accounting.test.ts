import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowAccountingError } from '../../../lib/errors.ts';
import { accountRows, importStatus } from '../../../lib/jobs/row-accounting.ts';

describe('row accounting', () => {
  it('accepts counts where every row read is succeeded, failed or a duplicate', () => {
    const account = accountRows(5, { succeeded: 2, failed: 2, duplicates: 1 });

    assert.deepEqual(account, { total: 5, succeeded: 2, failed: 2, duplicates: 1, stale: 0 });
  });

  it('counts stale rows (older than the data they would overwrite) as neither succeeded nor failed', () => {
    const account = accountRows(6, { succeeded: 3, failed: 0, duplicates: 1, stale: 2 });

    assert.deepEqual(account, { total: 6, succeeded: 3, failed: 0, duplicates: 1, stale: 2 });
    assert.equal(importStatus(account, 0), 'COMPLETED');
    assert.throws(
      () => accountRows(6, { succeeded: 3, failed: 0, duplicates: 1 }),
      (error) => error instanceof RowAccountingError && error.code === 'ROW_COUNT_MISMATCH',
    );
    assert.throws(
      () => accountRows(2, { succeeded: 3, failed: 0, duplicates: 0, stale: -1 }),
      (error) => error instanceof RowAccountingError && error.code === 'ROW_COUNT_MISMATCH',
    );
  });

  it('refuses counts that lose a row or count one twice', () => {
    for (const outcomes of [
      { succeeded: 1, failed: 0, duplicates: 0 },
      { succeeded: 2, failed: 1, duplicates: 0 },
      { succeeded: 3, failed: -1, duplicates: 0 },
    ]) {
      assert.throws(
        () => accountRows(2, outcomes),
        (error) => error instanceof RowAccountingError && error.code === 'ROW_COUNT_MISMATCH',
      );
    }
  });

  it('completes a job without failed rows, duplicates included', () => {
    assert.equal(
      importStatus({ total: 3, succeeded: 2, failed: 0, duplicates: 1, stale: 0 }, 0),
      'COMPLETED',
    );
  });

  it('fails a job with a failed row unless the tolerated percentage allows it', () => {
    const account = { total: 4, succeeded: 3, failed: 1, duplicates: 0, stale: 0 };

    assert.equal(importStatus(account, 0), 'FAILED');
    assert.equal(importStatus(account, 24), 'FAILED');
    assert.equal(importStatus(account, 25), 'COMPLETED');
  });

  it('fails a job with a batch that failed as a whole, whatever its rows', () => {
    assert.equal(
      importStatus({ total: 3, succeeded: 3, failed: 0, duplicates: 0, stale: 0 }, 100, 1),
      'FAILED',
    );
  });
});
