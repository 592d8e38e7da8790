import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../errors.ts';

/** How an accepted job is retried when it runs in this process, where no asynchronous invocation retries it. */
export interface InProcessRetry {
  /** Runs in all, the first included. */
  readonly attempts: number;
  /** Wait before the second run; each later wait doubles. */
  readonly firstDelayMs: number;
}

/**
 * Lambda's asynchronous invocation runs a job 3 times (2 retries); locally the same number of runs, with the
 * state machines' backoff (1 s, ×2) since a local outage (a restarting PostgreSQL) is short or lasting.
 */
export const LOCAL_JOB_RETRY: InProcessRetry = { attempts: 3, firstDelayMs: 1000 };

/** The reason recorded on a job for `error`. */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Runs `run` (a job runner that rethrows transient errors and records permanent ones itself) again while it
 * fails transiently, up to `retry.attempts` runs; then `giveUp` records the last transient error on the job
 * (FAILED with it as the reason) and the run ends without an error, as a permanent failure's does.
 */
export async function retryTransient(
  run: () => Promise<void>,
  giveUp: (error: unknown) => Promise<void>,
  retry: InProcessRetry = LOCAL_JOB_RETRY,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await run();
      return;
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt >= retry.attempts) {
        await giveUp(error);
        return;
      }
      await sleep(retry.firstDelayMs * 2 ** (attempt - 1));
    }
  }
}
