import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the synthesized definitions depend on: the CDK app, the code it imports, its context and versions. */
const INPUTS = ['infra', 'lib', 'cdk.json', 'package-lock.json'];

async function* files(path: string): AsyncGenerator<string> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (!entries) {
    yield path;
    return;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    yield* files(join(path, entry.name));
  }
}

/** A fingerprint of every input of the synthesis: any change to them means synthesizing again. */
export async function synthesisFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    for await (const file of files(resolve(ROOT, input))) {
      const content = await readFile(file).catch(() => Buffer.alloc(0));
      hash.update(relative(ROOT, file)).update('\0').update(content).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * Returns the value cached under `folder` for the current fingerprint, computing and storing it when absent.
 * The cache holds exactly what `compute` produced (the synthesized definitions), never an edited copy.
 */
export async function cachedBySynthesis<T>(folder: string, compute: () => T | Promise<T>): Promise<T> {
  const file = join(folder, `machines-${await synthesisFingerprint()}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    const value = await compute();
    await mkdir(folder, { recursive: true });
    const temporary = `${file}.${process.pid}.partial`;
    await writeFile(temporary, JSON.stringify(value));
    await rename(temporary, file);
    return value;
  }
}
