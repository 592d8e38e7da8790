import type { AsyncBuffer } from 'hyparquet';
import { InvalidFileError, StorageUnavailableError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';
import type { ByteRange, ObjectStore } from '../storage/object-store.ts';

/** Options of {@link openRangeBuffer}. */
export interface RangeBufferOptions {
  /** Called after each range is read from the store (metrics, tests). */
  readonly onRead?: (range: ByteRange) => void;
  /** Most bytes of the end of the object kept in memory: the footer cache. Default 16 MiB. */
  readonly footerCacheBytes?: number;
  /** The version of the object every read must find (see `ObjectStore.read`). */
  readonly pin?: SourcePin | undefined;
}

const DEFAULT_FOOTER_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * An hyparquet {@link AsyncBuffer} over an object in an {@link ObjectStore}: `byteLength` comes from HEAD and
 * every `slice(start, end)` is one range read of exactly those bytes. Nothing is cached except the end of
 * the object (the footer): a read that ends at the end of the object is kept (up to `footerCacheBytes`),
 * so later reads inside it cost nothing and a longer read of the end fetches only the bytes before it.
 * Counts the bytes and requests it reads, so callers can prove how little they read.
 */
export class RangeBuffer implements AsyncBuffer {
  readonly uri: string;
  readonly byteLength: number;
  readonly #store: ObjectStore;
  readonly #onRead: ((range: ByteRange) => void) | undefined;
  readonly #footerCacheBytes: number;
  readonly #pin: SourcePin | undefined;
  #tail: Uint8Array = new Uint8Array(0);
  #bytesRead = 0;
  #requests = 0;

  constructor(store: ObjectStore, uri: string, byteLength: number, options: RangeBufferOptions = {}) {
    this.#store = store;
    this.uri = uri;
    this.byteLength = byteLength;
    this.#onRead = options.onRead;
    this.#footerCacheBytes = options.footerCacheBytes ?? DEFAULT_FOOTER_CACHE_BYTES;
    this.#pin = options.pin;
  }

  /** Bytes read from the store so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Range reads sent to the store so far. */
  get requests(): number {
    return this.#requests;
  }

  /** The bytes `[start, end)` as a new ArrayBuffer. */
  async slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new RangeError(`invalid range ${start}-${end}`);
    }
    if (end > this.byteLength) {
      throw new InvalidFileError(
        'RANGE_OUT_OF_BOUNDS',
        `range ${start}-${end} outside ${this.uri} (${this.byteLength} bytes)`,
        { uri: this.uri, start, end, size: this.byteLength },
      );
    }
    const tailStart = this.byteLength - this.#tail.length;
    if (start >= tailStart) return this.#tail.slice(start - tailStart, end - tailStart).buffer;
    if (end < this.byteLength) return (await this.#fetch(start, end)).buffer as ArrayBuffer;
    // A read of the end of the object: fetch only what the cache lacks, and keep the whole tail.
    const head = await this.#fetch(start, tailStart);
    const tail = new Uint8Array(end - start);
    tail.set(head, 0);
    tail.set(this.#tail, head.length);
    if (tail.length <= this.#footerCacheBytes) this.#tail = tail;
    return tail.slice().buffer;
  }

  async #fetch(start: number, end: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(end - start);
    if (end === start) return bytes;
    const body = await this.#store.read(this.uri, { start, end }, this.#pin);
    let at = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (at + chunk.length > bytes.length) {
        body.destroy();
        throw new StorageUnavailableError(`long read of ${this.uri} ${start}-${end}`, {
          uri: this.uri,
          start,
          end,
        });
      }
      bytes.set(chunk, at);
      at += chunk.length;
    }
    if (at !== bytes.length) {
      throw new StorageUnavailableError(`short read of ${this.uri} ${start}-${end}: ${at} bytes`, {
        uri: this.uri,
        start,
        end,
      });
    }
    this.#bytesRead += bytes.length;
    this.#requests += 1;
    this.#onRead?.({ start, end });
    return bytes;
  }
}

/** Opens `uri` of `store` as an hyparquet AsyncBuffer (one HEAD request; with a pin, every read is pinned). */
export async function openRangeBuffer(
  store: ObjectStore,
  uri: string,
  options: RangeBufferOptions = {},
): Promise<RangeBuffer> {
  const { size } = await store.head(uri);
  return new RangeBuffer(store, uri, size, options);
}
