import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidRequestError } from '../errors.ts';

/** Where an object lives: an S3 bucket/key, or a file on local disk (local mode). */
export type ObjectLocation =
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'file'; readonly path: string };

// Bucket naming rules of S3: 3–63 chars of lowercase letters, digits, dots and hyphens.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const VIRTUAL_HOST = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/;

function s3Location(bucket: string, key: string, uri: string): ObjectLocation {
  if (!BUCKET.test(bucket))
    throw new InvalidRequestError('INVALID_FILE_PATH', `invalid bucket name in ${uri}`);
  if (key.length === 0 || key.endsWith('/')) {
    throw new InvalidRequestError('INVALID_FILE_PATH', `no object key in ${uri}`);
  }
  if (key.split('/').some((part) => part === '..')) {
    throw new InvalidRequestError('INVALID_FILE_PATH', `relative segment in object key of ${uri}`);
  }
  return { kind: 's3', bucket, key };
}

/**
 * Parses `s3://bucket/key`, an `https://host/bucket/key` (path-style, MinIO) or virtual-hosted S3 URL, and —
 * when `allowLocal` — `file://` URLs and filesystem paths (resolved to absolute paths).
 */
export function parseObjectUri(uri: string, options: { allowLocal: boolean }): ObjectLocation {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    if (slash < 0) throw new InvalidRequestError('INVALID_FILE_PATH', `no object key in ${uri}`);
    return s3Location(rest.slice(0, slash), rest.slice(slash + 1), uri);
  }
  if (uri.startsWith('https://') || uri.startsWith('http://')) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new InvalidRequestError('INVALID_FILE_PATH', `not a valid URL: ${uri}`);
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname.slice(1));
    } catch {
      throw new InvalidRequestError('INVALID_FILE_PATH', `malformed percent-encoding in ${uri}`);
    }
    const virtual = VIRTUAL_HOST.exec(url.hostname);
    if (virtual?.[1]) return s3Location(virtual[1], path, uri);
    const slash = path.indexOf('/');
    if (slash < 0) throw new InvalidRequestError('INVALID_FILE_PATH', `no bucket and key in ${uri}`);
    return s3Location(path.slice(0, slash), path.slice(slash + 1), uri);
  }
  if (!options.allowLocal) {
    throw new InvalidRequestError('INVALID_FILE_PATH', `not an S3 location (s3:// or https://): ${uri}`);
  }
  let path: string;
  if (uri.startsWith('file://')) {
    try {
      path = fileURLToPath(uri);
    } catch {
      // A host other than localhost, or an encoded slash: not a local file.
      throw new InvalidRequestError('INVALID_FILE_PATH', `not a local file URL: ${uri}`);
    }
  } else {
    if (uri.includes('://'))
      throw new InvalidRequestError('INVALID_FILE_PATH', `unsupported scheme in ${uri}`);
    if (uri.length === 0) throw new InvalidRequestError('INVALID_FILE_PATH', 'empty file path');
    path = isAbsolute(uri) ? uri : resolve(uri);
  }
  // The filesystem calls would throw a TypeError on it, later, as if storage were down.
  if (path.includes('\0')) throw new InvalidRequestError('INVALID_FILE_PATH', 'NUL character in file path');
  return { kind: 'file', path };
}

/**
 * Parses the URI of a folder: `s3://bucket/prefix/` (or an `https://` S3 URL of one), or — when `allowLocal`
 * — a local folder path, always with its trailing `/`. An S3 folder's `key` keeps its trailing `/` (the
 * listing prefix); a local folder's `path` is absolute, without it.
 *
 * @throws InvalidRequestError `INVALID_FILE_PATH` (no trailing `/`, no bucket or prefix, a `..` segment).
 */
export function parseFolderUri(uri: string, options: { allowLocal: boolean }): ObjectLocation {
  if (!isFolderUri(uri))
    throw new InvalidRequestError('INVALID_FILE_PATH', `not a folder (no trailing /): ${uri}`);
  // Parsed as the URI of an object in the folder, so that every rule of an object's URI applies to it.
  const inside = parseObjectUri(`${uri}_`, options);
  if (inside.kind === 'file') return { kind: 'file', path: dirname(inside.path) };
  const key = inside.key.slice(0, -1);
  if (key === '') throw new InvalidRequestError('INVALID_FILE_PATH', `no prefix in ${uri}`);
  return { ...inside, key };
}

/** Whether a URI names a folder or prefix rather than an object: it ends with `/`. */
export function isFolderUri(uri: string): boolean {
  return uri.endsWith('/');
}

/** The canonical URI of a folder {@link parseFolderUri} parsed: `s3://bucket/prefix/` or an absolute path and `/`. */
export function formatFolderUri(location: ObjectLocation): string {
  if (location.kind === 's3') return formatObjectUri(location);
  return location.path.endsWith('/') ? location.path : `${location.path}/`;
}

/** The canonical URI of a location: `s3://bucket/key` or an absolute path. */
export function formatObjectUri(location: ObjectLocation): string {
  return location.kind === 's3' ? `s3://${location.bucket}/${location.key}` : location.path;
}
