import pRetry, { type RetryContext } from 'p-retry';

/** How often to try and how long to wait: `baseDelayMs` first, doubled each time, at most `maxDelayMs`. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** What a failed attempt tells {@link retry}'s callbacks. */
export type FailedAttempt = RetryContext;

/** {@link retry}'s options: the policy, and optionally a deadline and which failures to try again. */
export interface RetryOptions extends RetryPolicy {
  /** Stops waiting and trying once aborted; `retry` then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Tries no more once this long has passed since the first attempt (the attempts may be unbounded). */
  readonly maxTimeMs?: number;
  /** Whether this failure is worth another attempt (all are by default). */
  readonly shouldRetry?: (attempt: FailedAttempt) => boolean | Promise<boolean>;
  /** Called after every failed attempt, the last one included, before any wait. */
  readonly onFailedAttempt?: (attempt: FailedAttempt) => void | Promise<void>;
}

/**
 * Runs `fn` up to `attempts` times until it resolves, waiting between attempts with exponential backoff and
 * jitter (each wait is the doubling delay times a random factor in [1, 2), capped at `maxDelayMs`), so that
 * many processes failing together do not come back together. Rejects with the last error. A `TypeError`
 * that is not a network error is a bug, not an outage, and is not tried again. A zero `baseDelayMs` means no
 * waits at all (what tests use).
 */
export async function retry<T>(fn: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  return pRetry(fn, {
    retries: Math.max(0, options.attempts - 1),
    factor: 2,
    minTimeout: options.baseDelayMs,
    maxTimeout: options.maxDelayMs,
    randomize: true,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.maxTimeMs === undefined ? {} : { maxRetryTime: options.maxTimeMs }),
    ...(options.shouldRetry ? { shouldRetry: options.shouldRetry } : {}),
    ...(options.onFailedAttempt ? { onFailedAttempt: options.onFailedAttempt } : {}),
  });
}
