import { RowAccountingError } from '../errors.ts';

/**
 * The one row-accounting rule of every import path (CLI, Kafka, upload, API CSV/NDJSON/Parquet): each record
 * read from the input counts exactly once, as succeeded (written by this job), failed (named in the job's
 * errors by its line, with a code and a reason) or a duplicate (an earlier record of the same file whose
 * key a later record wrote: the last one wins and is the one counted as succeeded) or stale (not written:
 * its node or pair holds data of a newer as-of, from another job; neither a success nor a failure). So
 * `total = succeeded + failed + duplicates + stale`, and the job is COMPLETED only when no row failed, or when the
 * failed rows stay within the tolerated percentage of `total`.
 */
export interface RowAccount {
  /** Records read from the input (blank lines are not records). */
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly duplicates: number;
  readonly stale: number;
}

/**
 * Checks the rule on what a path counted: `total` as read from the input (planned or iterated), the
 * outcomes as the loaders reported them. Counting both sides independently is what catches a record that
 * vanished between reading and loading.
 *
 * @throws RowAccountingError `ROW_COUNT_MISMATCH` when the outcomes do not add up to `total`.
 */
export function accountRows(
  total: number,
  outcomes: {
    readonly succeeded: number;
    readonly failed: number;
    readonly duplicates: number;
    /** Absent on paths that never skip a row for its as-of (user imports, erasures): none. */
    readonly stale?: number;
  },
): RowAccount {
  const account = { total, ...outcomes, stale: outcomes.stale ?? 0 };
  const counted = account.succeeded + account.failed + account.duplicates + account.stale;
  if (
    counted !== total ||
    [total, account.succeeded, account.failed, account.duplicates, account.stale].some((n) => n < 0)
  ) {
    throw new RowAccountingError(
      `${total} rows read but ${counted} accounted for (${account.succeeded} succeeded, ${account.failed} failed, ${account.duplicates} duplicates, ${account.stale} stale)`,
      { ...account },
    );
  }
  return account;
}

/** The final status of a job by its rows; a batch that failed as a whole (`batchesFailed`) fails the job. */
export function importStatus(
  account: RowAccount,
  toleratedFailurePercent: number,
  batchesFailed = 0,
): 'COMPLETED' | 'FAILED' {
  if (batchesFailed > 0) return 'FAILED';
  if (account.failed === 0) return 'COMPLETED';
  return (account.failed * 100) / account.total <= toleratedFailurePercent ? 'COMPLETED' : 'FAILED';
}

/** The failure reason of a job that failed for its rows. */
export function rowFailureReason(account: RowAccount): string {
  return `${account.failed} of ${account.total} rows failed`;
}
