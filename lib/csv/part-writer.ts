import { once } from 'node:events';
import { PassThrough } from 'node:stream';

/** Stores one uncompressed part of a gzip file; resolves once the whole body is stored. */
export type WritePart = (
  index: number,
  body: AsyncIterable<Buffer>,
) => Promise<{ uri: string; size: number }>;

/** Bytes a part body buffers ahead of its consumer before decompression waits. */
const PART_BODY_HIGH_WATER_MARK = 1024 * 1024;

/** The part being written and the parts written, with the bytes waiting for their part. */
export class PartWriter {
  readonly #writePart: WritePart;
  readonly queue = new ByteQueue();
  readonly written: { uri: string; size: number }[] = [];
  #current: OpenPart | undefined;

  constructor(writePart: WritePart) {
    this.#writePart = writePart;
  }

  /** Sends the queued bytes before `upTo` to the open part (or drops them when none is open). */
  async send(upTo: number): Promise<void> {
    const part = this.#current;
    for (const piece of this.queue.take(upTo)) {
      if (part === undefined) continue;
      // The writer stopped reading (it failed or gave up): its own outcome says why.
      if (part.body.destroyed) await part.early;
      part.bytes += piece.length;
      if (!part.body.write(piece)) {
        const drained = new AbortController();
        try {
          await Promise.race([once(part.body, 'drain', { signal: drained.signal }), part.early]);
        } finally {
          drained.abort();
        }
      }
    }
  }

  /** Ends the open part, waits until it is stored, and starts part `index`. */
  async open(index: number): Promise<void> {
    await this.close();
    const body = new PassThrough({ highWaterMark: PART_BODY_HIGH_WATER_MARK });
    // The writer sees a failed body through its own reads; without a listener the error would crash the process.
    body.on('error', () => {});
    const done = Promise.resolve().then(() => this.#writePart(index, body));
    const early = done.then(() => {
      throw new Error(`writePart(${index}) resolved before its body ended`);
    });
    early.catch(() => {});
    this.#current = { index, body, done, early, bytes: 0 };
  }

  /** Ends the open part, if any, and waits until it is stored. */
  async close(): Promise<void> {
    const part = this.#current;
    if (part === undefined) return;
    this.#current = undefined;
    part.body.end();
    const stored = await part.done;
    if (stored.size !== part.bytes) {
      throw new Error(`writePart(${part.index}) stored ${stored.size} bytes, ${part.bytes} were sent`);
    }
    this.written.push({ uri: stored.uri, size: stored.size });
  }

  /** Fails the open part's body so its writer stops, and waits for the writer to settle. */
  async abort(error: unknown): Promise<void> {
    const part = this.#current;
    if (part === undefined) return;
    this.#current = undefined;
    part.body.destroy(error instanceof Error ? error : new Error(String(error)));
    await part.done.catch(() => {});
  }
}

interface OpenPart {
  readonly index: number;
  readonly body: PassThrough;
  readonly done: Promise<{ uri: string; size: number }>;
  /** Rejects if the writer settles while the body is still being written. */
  readonly early: Promise<never>;
  bytes: number;
}

/** Bytes addressed by absolute offset, queued until they are taken. */
class ByteQueue {
  #chunks: Buffer[] = [];
  #start = 0;

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.#chunks.push(chunk);
  }

  /** Removes and returns the queued bytes before offset `upTo`, as views (no copy). */
  take(upTo: number): Buffer[] {
    const pieces: Buffer[] = [];
    while (this.#start < upTo && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const wanted = upTo - this.#start;
      if (wanted >= chunk.length) {
        pieces.push(chunk);
        this.#chunks.shift();
        this.#start += chunk.length;
      } else {
        pieces.push(chunk.subarray(0, wanted));
        this.#chunks[0] = chunk.subarray(wanted);
        this.#start = upTo;
      }
    }
    return pieces;
  }
}
