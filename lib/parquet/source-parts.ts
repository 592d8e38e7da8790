/**
 * The parts of a sharded match source: a folder or prefix (a URI with its trailing `/`) whose `.parquet`
 * objects are the parts, or a manifest file that lists them. Matching engines write their output this way
 * (Spark's `part-00000-….snappy.parquet` beside `_SUCCESS`).
 */
import { createInterface } from 'node:readline';
import { InvalidFileError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { formatFolderUri, isFolderUri, parseFolderUri } from '../storage/object-uri.ts';

/** How a match source names its data: one Parquet file, a folder of parts, or a manifest of parts. */
export type MatchSourceShape = 'file' | 'folder' | 'manifest';

/** Largest manifest read, in bytes: far more than `MAX_BATCHES` part names of S3's longest keys. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * What a source URI names: a folder or prefix when it ends with `/`; a manifest when its name is `_manifest`
 * or ends with `.manifest`; else one Parquet file.
 */
export function matchSourceShape(uri: string): MatchSourceShape {
  if (isFolderUri(uri)) return 'folder';
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  return name === '_manifest' || name.endsWith('.manifest') ? 'manifest' : 'file';
}

/** One part of a sharded source. */
export interface SourcePart {
  /** The part's canonical URI (`s3://bucket/key` or an absolute path). */
  readonly uri: string;
  /** Its path relative to the source's folder (`part-00002.parquet`, `date=2026-12-01/part-0.parquet`). */
  readonly name: string;
}

/**
 * Whether a folder's object is a part: a name ending in `.parquet`, with no segment of its path under the
 * folder starting with `_` or `.` (`_SUCCESS`, `_committed_*`, `_temporary/`, `.crc` files and other hidden
 * files, as Hadoop and Spark mark them). Any other name is ignored too.
 */
export function isPartName(name: string): boolean {
  return (
    name.toLowerCase().endsWith('.parquet') &&
    name.split('/').every((segment) => segment !== '' && !segment.startsWith('_') && !segment.startsWith('.'))
  );
}

/**
 * Streams the parts of a sharded source, in part order: a folder's parts sorted by key (byte order), a
 * manifest's in the order it lists them. Stops with `TOO_MANY_PARTS` at part `maxParts + 1`, so that no more
 * than `maxParts` are ever held by a caller.
 *
 * A manifest is a UTF-8 text file, one part per line: a name relative to the manifest's folder (subfolders
 * allowed, no `.` or `..` segment), or a URI under that folder; blank lines and lines starting with `#` are
 * skipped. Parts outside the manifest's folder are refused, so that whatever checks admitted the manifest's
 * location (its domain's upload prefix, the API's import folder) admit its parts too.
 *
 * @throws InvalidFileError `NO_PARTS` (no part at all), `TOO_MANY_PARTS`, `INVALID_MANIFEST` (a part outside
 *   the folder, listed twice, or the manifest over {@link MAX_MANIFEST_BYTES}); the store's errors.
 */
export async function* sourceParts(
  store: ObjectStore,
  uri: string,
  options: { readonly maxParts: number; readonly allowLocal: boolean },
): AsyncGenerator<SourcePart> {
  let count = 0;
  const parts =
    matchSourceShape(uri) === 'manifest' ? manifestParts(store, uri) : folderParts(store, uri, options);
  for await (const part of parts) {
    count += 1;
    if (count > options.maxParts) {
      throw new InvalidFileError('TOO_MANY_PARTS', `${uri} has more than ${options.maxParts} Parquet parts`, {
        uri,
        maxParts: options.maxParts,
      });
    }
    yield part;
  }
  if (count === 0) {
    throw new InvalidFileError('NO_PARTS', `no Parquet part (*.parquet) in ${uri}`, { uri });
  }
}

async function* folderParts(
  store: ObjectStore,
  uri: string,
  options: { readonly allowLocal: boolean },
): AsyncGenerator<SourcePart> {
  const base = formatFolderUri(parseFolderUri(uri, options));
  for await (const object of store.list(uri)) {
    if (!object.uri.startsWith(base)) continue;
    const name = object.uri.slice(base.length);
    if (isPartName(name)) yield { uri: object.uri, name };
  }
}

async function* manifestParts(store: ObjectStore, uri: string): AsyncGenerator<SourcePart> {
  const info = await store.head(uri);
  const invalid = (why: string, details: Record<string, unknown> = {}): InvalidFileError =>
    new InvalidFileError('INVALID_MANIFEST', `manifest ${uri}: ${why}`, { uri, ...details });
  if (info.size > MAX_MANIFEST_BYTES) throw invalid(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  const base = info.uri.slice(0, info.uri.lastIndexOf('/') + 1);
  const seen = new Set<string>();
  const lines = createInterface({ input: await store.read(info.uri), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    const entry = line.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const name = entry.startsWith(base) ? entry.slice(base.length) : entry;
    const segments = name.split('/');
    const relative =
      !name.includes('://') &&
      !name.startsWith('/') &&
      segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..');
    if (!relative) throw invalid(`line ${lineNumber} names a part outside its folder`, { line: lineNumber });
    if (seen.has(name)) throw invalid(`line ${lineNumber} lists ${name} again`, { line: lineNumber });
    seen.add(name);
    yield { uri: `${base}${name}`, name };
  }
}
