import pg from 'pg';
import { DeadlineExceededError } from '../errors.ts';
import type { JobRef } from '../model/types.ts';

/** How long a cancelled statement may take to stop before its connection is closed instead. */
const CANCEL_GRACE_MS = 3_000;

/** Awaits `work`, calling `onAbort` if the signal fires meanwhile (the work then settles with an error). */
export async function abortable<T>(
  signal: AbortSignal | undefined,
  work: Promise<T>,
  onAbort: () => void,
): Promise<T> {
  if (!signal) return work;
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Stops the statement running on `client`: `pg_cancel_backend` from a separate short-lived connection
 * (works through TLS and RDS Proxy, unlike a protocol cancel request). If the statement has not stopped
 * after a grace period, the connection is closed, which ends the transaction on the server too.
 * Resolves once the cancel was delivered, so a late cancel cannot hit a later statement.
 */
export async function cancelStatement(
  pool: pg.Pool,
  client: pg.PoolClient,
  pid: number | undefined,
  work: Promise<unknown>,
): Promise<void> {
  const timer = setTimeout(() => destroyConnection(client), CANCEL_GRACE_MS);
  work.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
  if (pid === undefined) return;
  const canceller = new pg.Client({
    ...pool.options,
    application_name: 'matchbridge-cancel',
    connectionTimeoutMillis: CANCEL_GRACE_MS,
  });
  canceller.on('error', () => {});
  try {
    await canceller.connect();
    await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The grace timer closes the connection instead.
  } finally {
    await canceller.end().catch(() => {});
  }
}

/** Closes the client's socket: the active query fails at once and the server rolls the transaction back. */
function destroyConnection(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

export function throwIfAborted(signal: AbortSignal | undefined, job: JobRef): void {
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
}

/** The error of a load stopped by its deadline (the open DB batch rolled back). */
export function deadlineExceeded(job: JobRef, cause: unknown): DeadlineExceededError {
  return new DeadlineExceededError('load stopped: deadline reached', { jobId: job.jobId }, { cause });
}
