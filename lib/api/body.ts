import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { ApiRequestError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/** Largest JSON request body. */
export const MAX_JSON_BYTES = 64 * 1024;

/** A request body written to the object store, with its size and SHA-256. */
export interface StagedBody {
  readonly uri: string;
  readonly size: number;
  readonly sha256: string;
}

export const tooLarge = (limit: number): ApiRequestError =>
  new ApiRequestError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(headers: Readonly<Record<string, string | undefined>>): string {
  return (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Refuses a body whose declared length is over `limit` before reading any of it. */
export function checkDeclaredLength(
  headers: Readonly<Record<string, string | undefined>>,
  limit: number,
): void {
  const declared = Number(headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
}

/** Reads a JSON object body of at most {@link MAX_JSON_BYTES}. */
export async function readJson(body: Readable): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw tooLarge(MAX_JSON_BYTES);
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiRequestError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiRequestError(400, 'INVALID_JSON', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Streams `source` into the store at `uri`, hashing and counting it; over `limit` bytes it fails with 413. */
export async function stageBody(
  store: ObjectStore,
  uri: string,
  source: AsyncIterable<Buffer>,
  limit: number,
  contentType?: string,
): Promise<StagedBody> {
  const hash = createHash('sha256');
  let size = 0;
  let over = false;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > limit) {
        over = true;
        throw tooLarge(limit);
      }
      hash.update(chunk);
      yield chunk;
    }
  }
  try {
    await store.write(uri, counted(), contentType ? { contentType } : {});
  } catch (error) {
    // The store wraps what its body throws; the size limit is the caller's error, not the store's.
    if (over) throw tooLarge(limit);
    throw error;
  }
  return { uri, size, sha256: hash.digest('hex') };
}

/**
 * Reads a multipart/form-data body: its text fields, and its `file` part streamed into the store at `uri`
 * (parts named otherwise are skipped). Over `limit` bytes of file: 413.
 */
export function readMultipart(
  body: Readable,
  headers: Readonly<Record<string, string | undefined>>,
  store: ObjectStore,
  uri: string,
  limit: number,
): Promise<{ fields: Record<string, string>; file?: StagedBody }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': headers['content-type'] ?? '' },
        limits: { files: 1, fields: 20, fieldSize: 64 * 1024, fileSize: limit },
      });
    } catch (error) {
      reject(
        new ApiRequestError(400, 'INVALID_MULTIPART', `not a multipart body: ${(error as Error).message}`),
      );
      return;
    }
    const fields: Record<string, string> = {};
    let file: Promise<StagedBody> | undefined;
    let truncated = false;
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || file) {
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        truncated = true;
      });
      file = stageBody(store, uri, stream, limit, info.mimeType);
      // Settled by the close handler; an early failure must not be unhandled meanwhile.
      file.catch(() => undefined);
    });
    parser.on('error', (error) => {
      reject(
        new ApiRequestError(
          400,
          'INVALID_MULTIPART',
          `unreadable multipart body: ${(error as Error).message}`,
        ),
      );
    });
    parser.on('close', () => {
      if (truncated) {
        reject(tooLarge(limit));
        return;
      }
      if (!file) {
        resolve({ fields });
        return;
      }
      file.then((staged) => resolve({ fields, file: staged }), reject);
    });
    pipeline(body, parser).catch((error: unknown) => {
      reject(
        error instanceof ApiRequestError
          ? error
          : new ApiRequestError(400, 'INVALID_MULTIPART', String(error)),
      );
    });
  });
}
