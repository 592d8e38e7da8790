import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiResponse } from './http.ts';

/** Where the console is served: a static page, a client of the API next to it. */
export const CONSOLE_PATH = '/console/';

/** The console's files: plain HTML, ES modules and CSS, served as they are (no build step). */
const CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page loads only its own files and talks only to its own origin (the API, or the proxy to it). */
const HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
};

let files: Promise<ReadonlySet<string>> | undefined;

/** The names that may be served: the folder's files of a known type, listed once. */
function servable(): Promise<ReadonlySet<string>> {
  files ??= readdir(CONSOLE_DIR).then((names) => new Set(names.filter((name) => extname(name) in TYPES)));
  return files;
}

/**
 * The response for a console path: `/console` redirects to `/console/`, which is `index.html`; a file of
 * the folder is streamed as it is; any other name under `/console/` is 404. `undefined` for a path that is
 * not the console's.
 */
export async function consoleAsset(path: string): Promise<ApiResponse | undefined> {
  if (path === CONSOLE_PATH.slice(0, -1)) {
    return {
      status: 308,
      headers: { location: CONSOLE_PATH },
      json: { code: 'MOVED', message: `the console is at ${CONSOLE_PATH}` },
    };
  }
  if (!path.startsWith(CONSOLE_PATH)) return undefined;
  const name = path === CONSOLE_PATH ? 'index.html' : path.slice(CONSOLE_PATH.length);
  if (!(await servable()).has(name)) {
    return { status: 404, json: { code: 'NOT_FOUND', message: `no console file ${name.slice(0, 100)}` } };
  }
  return {
    status: 200,
    headers: { ...HEADERS, 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' },
    stream: createReadStream(join(CONSOLE_DIR, name)),
  };
}
