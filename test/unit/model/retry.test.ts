import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retry } from '../../../lib/model/retry.ts';

class OutageError extends Error {
  override readonly name = 'OutageError';
}

/** Fails its first `failures` calls, then resolves with the attempt number. */
function flaky(failures: number) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    fn: async (attempt: number) => {
      calls += 1;
      if (calls <= failures) throw new OutageError(`down (${calls})`);
      return attempt;
    },
  };
}

describe('retry', () => {
  it('tries again until the operation succeeds, within the attempts', async () => {
    const op = flaky(2);

    const result = await retry(op.fn, { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 });

    assert.equal(result, 3);
    assert.equal(op.calls, 3);
  });

  it('rejects with the last error after the last attempt', async () => {
    const op = flaky(Number.POSITIVE_INFINITY);

    await assert.rejects(retry(op.fn, { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 }), {
      name: 'OutageError',
      message: 'down (3)',
    });
    assert.equal(op.calls, 3);
  });

  it('waits from the base delay, doubling with jitter, at most the maximum', async () => {
    const op = flaky(Number.POSITIVE_INFINITY);
    const delays: number[] = [];

    await assert.rejects(
      retry(op.fn, {
        attempts: 4,
        baseDelayMs: 4,
        maxDelayMs: 12,
        onFailedAttempt: ({ retryDelay }) => void delays.push(retryDelay),
      }),
      { name: 'OutageError' },
    );

    // Jitter multiplies each doubling delay by [1, 2): 4–8, then 8–12 (capped), then the cap; none after the last.
    assert.equal(delays.length, 4);
    const [first = -1, second = -1, third = -1, last = -1] = delays;
    assert.ok(first >= 4 && first <= 8, `first wait ${first}`);
    assert.ok(second >= 8 && second <= 12, `second wait ${second}`);
    assert.equal(third, 12);
    assert.equal(last, 0);
  });

  it('fails at once when the failure is not worth another attempt', async () => {
    const op = flaky(Number.POSITIVE_INFINITY);

    await assert.rejects(
      retry(op.fn, { attempts: 5, baseDelayMs: 0, maxDelayMs: 0, shouldRetry: () => false }),
      { name: 'OutageError' },
    );
    assert.equal(op.calls, 1);
  });

  it('stops waiting and trying once its signal is aborted', async () => {
    const op = flaky(Number.POSITIVE_INFINITY);
    const controller = new AbortController();

    const started = performance.now();
    setTimeout(() => controller.abort(new Error('deadline')), 20);
    await assert.rejects(
      retry(op.fn, { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal }),
      { message: 'deadline' },
    );

    assert.equal(op.calls, 1);
    assert.ok(performance.now() - started < 10_000);
  });
});
