import type { Readable } from 'node:stream';
import type { SourcePin } from '../model/types.ts';

/** Metadata of a stored object. */
export interface ObjectInfo {
  readonly uri: string;
  readonly size: number;
  readonly contentType?: string;
  readonly etag?: string;
  /** S3 VersionId, in a versioned bucket. */
  readonly versionId?: string;
  /** Last modification time (ISO). */
  readonly modifiedAt?: string;
}

/** The pin of the object version `info` describes: what {@link ObjectStore.read} checks every read against. */
export function pinOf(info: ObjectInfo): SourcePin {
  return {
    size: info.size,
    ...(info.etag !== undefined ? { etag: info.etag } : {}),
    ...(info.versionId !== undefined ? { versionId: info.versionId } : {}),
    ...(info.modifiedAt !== undefined ? { modifiedAt: info.modifiedAt } : {}),
  };
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
  /**
   * Reads the object or a range of it. With a `pin`, only that version is read: S3 sends `VersionId` /
   * `If-Match` and checks the ETag answered; a local file's size and modification time are compared before
   * and after the read. Another version fails with SourceChangedError (`SOURCE_CHANGED`).
   */
  read(uri: string, range?: ByteRange, pin?: SourcePin): Promise<Readable>;
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
  /**
   * Every object under a folder (`s3://bucket/run-42/`, or a local folder; the trailing `/` is required),
   * its subfolders included, sorted by key in byte order (S3's listing order; a local folder is walked in the
   * same order), streamed: S3 pages of up to 1000 keys (ListObjectsV2 with continuation), one local folder's
   * entries at a time. Local symbolic links are not followed (they are left out). A missing folder lists
   * nothing.
   *
   * @throws InvalidRequestError `INVALID_FILE_PATH` (not a folder URI); InvalidFileError `NOT_A_FOLDER`,
   *   `ACCESS_DENIED`; StorageUnavailableError.
   */
  list(folder: string): AsyncIterable<ObjectInfo>;
}
