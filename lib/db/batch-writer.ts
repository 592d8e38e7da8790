import { setImmediate as nextTurn } from 'node:timers/promises';
import { DeadlineExceededError } from '../errors.ts';
import type { JobRef } from '../model/types.ts';
import { deadlineExceeded } from './cancel.ts';

/**
 * Staged bytes at which a DB batch ends before its `dbBatchRows`: wide rows (5 KB each) would otherwise make
 * a 20,000-row DB batch of 100 MB, and memory holds two of them per batch loading.
 */
export const DB_BATCH_BYTES = 16 * 1024 * 1024;

/** A DB batch being gathered: items are added until it holds `dbBatchRows` rows or `dbBatchBytes` bytes. */
export interface GatheredBatch<I> {
  /** Rows. */
  readonly size: number;
  /** Bytes staged. */
  readonly bytes: number;
  add(item: I): void;
}

/**
 * Groups items into DB batches of at most `dbBatchRows` rows (an item larger than that makes a batch of its
 * own), ending one early once it holds `dbBatchBytes` (it passes that by at most one item), and writes them one at a time, in order, while the next one is gathered: reading and the database
 * overlap, and memory holds at most two batches. Aborting, or a failed write, stops the reading; no write is
 * left running when this returns or throws.
 *
 * @throws DeadlineExceededError when `signal` aborts; the write's or the source's error otherwise.
 */
export async function writeInBatches<I, B extends GatheredBatch<I>>(
  items: AsyncIterable<I>,
  job: JobRef,
  opts: {
    readonly dbBatchRows: number;
    readonly dbBatchBytes: number;
    readonly signal: AbortSignal | undefined;
    readonly newBatch: () => B;
    /** Rows an item adds to a batch. */
    readonly sizeOf: (item: I) => number;
    /** Writes a DB batch; `rowOffset`: the rows of the batches before it. */
    readonly write: (batch: B, rowOffset: number) => Promise<void>;
  },
): Promise<void> {
  const { dbBatchRows, dbBatchBytes, signal, newBatch, sizeOf, write } = opts;
  let batch = newBatch();
  let writing: Promise<void> | undefined;
  let writeFailed = false;
  let rowOffset = 0;
  const submit = async (full: B): Promise<void> => {
    if (writing) await writing;
    if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
    writing = write(full, rowOffset);
    rowOffset += full.size;
    // Awaited later; meanwhile a failure stops the reading early and is not reported as unhandled.
    writing.catch(() => {
      writeFailed = true;
    });
  };

  const source = abortableSource(items, signal, job);
  try {
    while (true) {
      if (writeFailed) await writing;
      const step = await source.next();
      if (step.done) break;
      // A DB batch never grows past dbBatchRows because of an item (an item alone may be larger).
      if (batch.size > 0 && batch.size + sizeOf(step.value) > dbBatchRows) {
        await submit(batch);
        batch = newBatch();
      }
      batch.add(step.value);
      // Decoding runs between I/O turns only when it awaits I/O: let the running write's replies in.
      if (writing) await nextTurn();
      if (batch.size >= dbBatchRows || batch.bytes >= dbBatchBytes) {
        await submit(batch);
        batch = newBatch();
      }
    }
    if (batch.size > 0) await submit(batch);
    if (writing) await writing;
  } catch (err) {
    source.close();
    // Never leave a transaction running behind the caller's back.
    if (writing) await writing.catch(() => {});
    if (signal?.aborted && !(err instanceof DeadlineExceededError)) throw deadlineExceeded(job, err);
    throw err;
  } finally {
    source.release();
  }
}

/**
 * Reads `rows` one item at a time; a pending read rejects with DeadlineExceededError as soon as `signal`
 * aborts, even when the source is stalled on its input. (One listener for the whole read, not a
 * Promise.race per item: racing against one long-lived promise leaks a reaction per call.)
 */
function abortableSource<T>(
  rows: AsyncIterable<T>,
  signal: AbortSignal | undefined,
  job: JobRef,
): { next(): Promise<IteratorResult<T>>; close(): void; release(): void } {
  const iterator = rows[Symbol.asyncIterator]();
  if (!signal) {
    return {
      next: () => iterator.next(),
      close: () => void iterator.return?.()?.catch(() => {}),
      release: () => {},
    };
  }
  let rejectPending: ((err: unknown) => void) | undefined;
  const onAbort = () => rejectPending?.(deadlineExceeded(job, signal.reason));
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    next: () =>
      new Promise<IteratorResult<T>>((resolve, reject) => {
        if (signal.aborted) {
          reject(deadlineExceeded(job, signal.reason));
          return;
        }
        rejectPending = reject;
        iterator.next().then(resolve, reject);
      }),
    // A source still waiting on its input is told to stop; its own cleanup is not waited for.
    close: () => void iterator.return?.()?.catch(() => {}),
    release: () => signal.removeEventListener('abort', onAbort),
  };
}
