import type { Readable } from 'node:stream';

/** Metadata of a stored object. */
export interface ObjectInfo {
  readonly uri: string;
  readonly size: number;
  readonly contentType?: string;
  readonly etag?: string;
}

/** A byte range `[start, end)`; `end` is exclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * One reader/writer over S3 objects and local files, addressed by URI (`s3://…`, `https://…`, or a path).
 * Reads are streams of exactly the requested bytes: a short or interrupted read fails with
 * StorageUnavailableError rather than returning fewer bytes.
 */
export interface ObjectStore {
  head(uri: string): Promise<ObjectInfo>;
  read(uri: string, range?: ByteRange): Promise<Readable>;
  write(
    uri: string,
    body: AsyncIterable<Buffer | string> | Buffer | string,
    options?: { contentType?: string },
  ): Promise<ObjectInfo>;
  /** True when the object exists. */
  exists(uri: string): Promise<boolean>;
  /**
   * Deletes the object at `uri` and every object under it as a prefix (`uri/…`); returns how many objects
   * went (a local folder counts its files). Nothing there is not an error.
   */
  remove(uri: string): Promise<number>;
}
