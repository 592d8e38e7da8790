import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InvalidFileError, SourceChangedError, StorageUnavailableError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from './object-store.ts';
import { formatObjectUri, type ObjectLocation, parseFolderUri, parseObjectUri } from './object-uri.ts';

interface StoreOptions {
  /** Client for `s3://` and `https://` locations; created on first use. */
  readonly s3: () => S3Client;
  /** Local mode: filesystem paths are objects too. On AWS only S3 locations are accepted. */
  readonly allowLocalFiles: boolean;
}

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Maps S3 and filesystem failures to domain errors: missing/forbidden objects are permanent, the rest transient. */
function storageError(error: unknown, uri: string): Error {
  const e = (error ?? {}) as AwsLikeError;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.name === 'NoSuchBucket' || e.code === 'ENOENT') {
    return new InvalidFileError('FILE_NOT_FOUND', `file not found: ${uri}`, { uri }, { cause: error });
  }
  if (e.name === 'AccessDenied' || e.name === 'Forbidden' || status === 403 || e.code === 'EACCES') {
    return new InvalidFileError('ACCESS_DENIED', `access denied to ${uri}`, { uri }, { cause: error });
  }
  if (e.code === 'ENOTDIR') {
    return new InvalidFileError('NOT_A_FOLDER', `not a folder: ${uri}`, { uri }, { cause: error });
  }
  if (e.code === 'EISDIR') {
    return new InvalidFileError('NOT_A_FILE', `not a file: ${uri}`, { uri }, { cause: error });
  }
  if (e.name === 'PreconditionFailed' || e.name === 'NoSuchVersion' || status === 412)
    return sourceChanged(uri, { status });
  if (
    error instanceof InvalidFileError ||
    error instanceof StorageUnavailableError ||
    error instanceof SourceChangedError
  ) {
    return error;
  }
  return new StorageUnavailableError(`storage unavailable reading ${uri}`, { uri, status }, { cause: error });
}

function sourceChanged(uri: string, details: Record<string, unknown>): SourceChangedError {
  return new SourceChangedError(`the source changed after the job was planned: ${uri}`, { uri, ...details });
}

/** Fails unless a local file's size and modification time are still those of the pin. */
function checkLocalPin(info: ObjectInfo, pin: SourcePin | undefined, uri: string): void {
  if (pin === undefined) return;
  if (info.size !== pin.size || (pin.modifiedAt !== undefined && info.modifiedAt !== pin.modifiedAt)) {
    throw sourceChanged(uri, { pinned: pin, found: { size: info.size, modifiedAt: info.modifiedAt } });
  }
}

/** Yields the body and fails unless exactly `expected` bytes arrived: a cut connection is never a short file. */
async function* exactly(body: AsyncIterable<Buffer>, expected: number, uri: string): AsyncGenerator<Buffer> {
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += chunk.length;
      yield chunk;
    }
  } catch (error) {
    throw storageError(error, uri);
  }
  if (seen !== expected) {
    throw new StorageUnavailableError(`short read of ${uri}: ${seen} of ${expected} bytes`, {
      uri,
      seen,
      expected,
    });
  }
}

/** Yields `body`, then runs `check` once it ended. */
async function* afterwards(body: AsyncIterable<Buffer>, check: () => Promise<void>): AsyncGenerator<Buffer> {
  yield* body;
  await check();
}

function checkRange(range: ByteRange | undefined, size: number, uri: string): ByteRange {
  const r = range ?? { start: 0, end: size };
  if (r.start < 0 || r.end < r.start || r.end > size) {
    throw new InvalidFileError(
      'RANGE_OUT_OF_BOUNDS',
      `range ${r.start}-${r.end} outside ${uri} (${size} bytes)`,
      {
        uri,
      },
    );
  }
  return r;
}

class LocalAndS3Store implements ObjectStore {
  readonly #options: StoreOptions;

  constructor(options: StoreOptions) {
    this.#options = options;
  }

  #locate(uri: string): ObjectLocation {
    return parseObjectUri(uri, { allowLocal: this.#options.allowLocalFiles });
  }

  async head(uri: string): Promise<ObjectInfo> {
    const location = this.#locate(uri);
    if (location.kind === 'file') {
      try {
        const info = await stat(location.path);
        if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
        return { uri: location.path, size: info.size, modifiedAt: info.mtime.toISOString() };
      } catch (error) {
        throw storageError(error, uri);
      }
    }
    try {
      const out = await this.#options
        .s3()
        .send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
      return {
        uri: formatObjectUri(location),
        size: out.ContentLength ?? 0,
        ...(out.ContentType ? { contentType: out.ContentType } : {}),
        ...(out.ETag ? { etag: out.ETag } : {}),
        ...(out.VersionId ? { versionId: out.VersionId } : {}),
        ...(out.LastModified ? { modifiedAt: out.LastModified.toISOString() } : {}),
      };
    } catch (error) {
      throw storageError(error, uri);
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      await this.head(uri);
      return true;
    } catch (error) {
      if (error instanceof InvalidFileError && error.code === 'FILE_NOT_FOUND') return false;
      throw error;
    }
  }

  async read(uri: string, range?: ByteRange, pin?: SourcePin): Promise<Readable> {
    const location = this.#locate(uri);
    if (location.kind === 'file') {
      const info = await this.head(uri);
      checkLocalPin(info, pin, uri);
      const r = checkRange(range, info.size, uri);
      if (r.end === r.start) return Readable.from([]);
      const stream = createReadStream(location.path, { start: r.start, end: r.end - 1 });
      // A file replaced or rewritten while it was read: the bytes may be of either version.
      const checked = pin
        ? afterwards(exactly(stream, r.end - r.start, uri), async () =>
            checkLocalPin(await this.head(uri), pin, uri),
          )
        : exactly(stream, r.end - r.start, uri);
      return Readable.from(checked);
    }
    if (range && range.end === range.start) return Readable.from([]);
    try {
      const out = await this.#options.s3().send(
        new GetObjectCommand({
          Bucket: location.bucket,
          Key: location.key,
          ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
          ...(pin?.versionId ? { VersionId: pin.versionId } : {}),
          ...(pin?.etag ? { IfMatch: pin.etag } : {}),
        }),
      );
      const body = out.Body as Readable | undefined;
      if (!body) throw new StorageUnavailableError(`empty response body for ${uri}`, { uri });
      // Checked here too: not every S3-compatible server honours If-Match.
      if (pin?.etag !== undefined && out.ETag !== undefined && out.ETag !== pin.etag) {
        body.destroy();
        throw sourceChanged(uri, { pinned: pin.etag, found: out.ETag });
      }
      const expected = range ? range.end - range.start : (out.ContentLength ?? 0);
      return Readable.from(exactly(body, expected, uri));
    } catch (error) {
      throw storageError(error, uri);
    }
  }

  async write(
    uri: string,
    body: AsyncIterable<Buffer | string> | Buffer | string,
    options: { contentType?: string } = {},
  ): Promise<ObjectInfo> {
    const location = this.#locate(uri);
    let size = 0;
    const counted = async function* (): AsyncGenerator<Buffer> {
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? [body] : body;
      for await (const chunk of source) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buf.length;
        yield buf;
      }
    };
    if (location.kind === 'file') {
      // Write beside the target and rename, so a reader never sees a half-written object.
      const temporary = `${location.path}.${process.pid}.${Date.now()}.partial`;
      try {
        await mkdir(dirname(location.path), { recursive: true });
        await pipeline(Readable.from(counted()), createWriteStream(temporary));
        await rename(temporary, location.path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw storageError(error, uri);
      }
      return { uri: location.path, size };
    }
    try {
      await new Upload({
        client: this.#options.s3(),
        params: {
          Bucket: location.bucket,
          Key: location.key,
          Body: Readable.from(counted()),
          ...(options.contentType ? { ContentType: options.contentType } : {}),
        },
      }).done();
    } catch (error) {
      throw storageError(error, uri);
    }
    return { uri: formatObjectUri(location), size };
  }

  async *list(folder: string): AsyncGenerator<ObjectInfo> {
    const location = parseFolderUri(folder, { allowLocal: this.#options.allowLocalFiles });
    if (location.kind === 'file') {
      yield* listLocalFolder(location.path, folder);
      return;
    }
    const s3 = this.#options.s3();
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await s3.send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: location.key,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        throw storageError(error, folder);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          uri: formatObjectUri({ kind: 's3', bucket: location.bucket, key: object.Key }),
          size: object.Size ?? 0,
          ...(object.ETag ? { etag: object.ETag } : {}),
          ...(object.LastModified ? { modifiedAt: object.LastModified.toISOString() } : {}),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(uri: string): Promise<number> {
    const location = this.#locate(uri);
    if (location.kind === 'file') {
      try {
        const count = await countFiles(location.path);
        await rm(location.path, { recursive: true, force: true });
        return count;
      } catch (error) {
        throw storageError(error, uri);
      }
    }
    const s3 = this.#options.s3();
    const key = location.key.replace(/\/$/, '');
    // The object itself and the objects under it as a folder, never `key-other` beside it.
    const covered = (candidate: string | undefined): candidate is string =>
      candidate !== undefined && (candidate === key || candidate.startsWith(`${key}/`));
    let removed = 0;
    let token: string | undefined;
    try {
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: key,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        const keys = (page.Contents ?? []).map((object) => object.Key).filter(covered);
        if (keys.length > 0) {
          // A page holds at most 1000 keys: one delete call.
          await s3.send(
            new DeleteObjectsCommand({
              Bucket: location.bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          removed += keys.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw storageError(error, uri);
    }
    return removed;
  }
}

/**
 * The regular files under a local folder, depth first in the byte order of their paths: a folder's entries
 * are sorted with each subfolder's name read as `name/`, so `a-b` comes before the files of `a/` as in S3.
 * Holds one folder's entries per level.
 */
async function* listLocalFolder(path: string, folder: string): AsyncGenerator<ObjectInfo> {
  let entries: Dirent[];
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return;
    throw storageError(error, folder);
  }
  const keyOf = (entry: Dirent): Buffer => Buffer.from(entry.isDirectory() ? `${entry.name}/` : entry.name);
  const sorted = entries
    .filter((entry) => entry.isFile() || entry.isDirectory())
    .map((entry) => ({ entry, key: keyOf(entry) }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  for (const { entry } of sorted) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      yield* listLocalFolder(child, folder);
      continue;
    }
    try {
      const info = await stat(child);
      yield { uri: child, size: info.size, modifiedAt: info.mtime.toISOString() };
    } catch (error) {
      // Removed between the listing and its stat: no longer under the folder.
      if ((error as { code?: string }).code === 'ENOENT') continue;
      throw storageError(error, child);
    }
  }
}

/** Files under a local path (the path itself when it is a file); none when nothing is there. */
async function countFiles(path: string): Promise<number> {
  try {
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).length;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOTDIR') return 1;
    if (code === 'ENOENT') return 0;
    throw error;
  }
}

/** The object store of this process: S3 always, local files too in local mode. */
export function createObjectStore(options: StoreOptions): ObjectStore {
  return new LocalAndS3Store(options);
}
