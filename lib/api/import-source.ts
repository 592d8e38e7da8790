import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { ApiRequestError } from '../errors.ts';
import { checkPipelineBucketPath } from '../ingest/import-request.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { isFolderUri, type ObjectLocation, parseFolderUri, parseObjectUri } from '../storage/object-uri.ts';

const notAllowed = (message: string): ApiRequestError =>
  new ApiRequestError(400, 'SOURCE_NOT_ALLOWED', message);

/** The real path of `path` (symlinks and `..` resolved), or undefined when there is no such file. */
async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Whether `path` lies strictly inside `folder` (both absolute and normalised). */
function isInside(folder: string, path: string): boolean {
  const rest = relative(folder, path);
  return rest !== '' && !rest.startsWith('..') && !isAbsolute(rest);
}

/**
 * A local file a caller names, checked against the import folder: its path must lie inside the folder, and
 * so must its real path (symlinks resolved), so that neither `..` nor a symlink reaches anything outside.
 * A path outside is refused before its existence is looked at, so that the answer tells nothing about it.
 */
async function localSource(path: string, root: string | undefined): Promise<string> {
  if (root === undefined) {
    throw notAllowed('local paths are not taken: name an s3:// or https:// object (no import folder is set)');
  }
  const folder = await realpath(root);
  const outside = notAllowed('local paths are taken only inside the import folder');
  if (!isInside(resolve(root), path) && !isInside(folder, path)) throw outside;
  const file = await realPathOf(path);
  if (file === undefined) throw new ApiRequestError(400, 'SOURCE_NOT_FOUND', 'no file at that path');
  if (!isInside(folder, file)) throw outside;
  return file;
}

/**
 * Checks a caller's `source_uri` and returns the URI its job reads. Object-store URIs (`s3://`, `https://`
 * S3 or MinIO style) must exist and, in the pipeline's own bucket, be one of the domain's uploads or exports
 * (the rule Kafka requests follow): its staged uploads, parts and reports belong to every domain. A local
 * path (local mode only) must lie inside `API_LOCAL_IMPORT_ROOT`; the job reads its real path. With
 * `folders` (a Parquet match import), a folder or prefix (trailing `/`) of parts is taken too: it must hold
 * at least one object, or be a local folder inside the import folder.
 *
 * @throws ApiRequestError 400 `INVALID_SOURCE` (not a URI or path), `SOURCE_NOT_ALLOWED` (a local path
 *   without an import folder or outside it), `SOURCE_NOT_FOUND`.
 */
export async function checkImportSource(
  deps: RuntimeDeps,
  uri: string,
  domainId: string,
  folders = false,
): Promise<string> {
  const { config, store } = deps;
  const folder = folders && isFolderUri(uri);
  let location: ObjectLocation;
  try {
    location = (folder ? parseFolderUri : parseObjectUri)(uri, { allowLocal: config.localMode });
  } catch (error) {
    throw new ApiRequestError(400, 'INVALID_SOURCE', (error as Error).message);
  }
  if (location.kind === 'file') {
    const path = await localSource(location.path, config.apiLocalImportRoot);
    return folder ? `${path}/` : path;
  }
  checkPipelineBucketPath(location, uri, domainId, config.stagingBucket);
  const found = folder ? await hasObjectUnder(deps, uri) : await store.exists(uri);
  if (!found) throw new ApiRequestError(400, 'SOURCE_NOT_FOUND', `no file at ${uri}`);
  return uri;
}

/** Whether anything is stored under a folder or prefix (its parts are checked when the job plans). */
async function hasObjectUnder(deps: RuntimeDeps, folder: string): Promise<boolean> {
  for await (const _object of deps.store.list(folder)) return true;
  return false;
}
