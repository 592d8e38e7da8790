import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './run-command.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const MVN_TIMEOUT_MS = 10 * 60_000;
const LOCK_STALE_MS = MVN_TIMEOUT_MS + 60_000;
const WAIT_TIMEOUT_MS = LOCK_STALE_MS + 60_000;

/** A Java program the tests run, described by a pom whose runtime dependencies are its classpath. */
export interface MavenProgram {
  /** Names the cache folder (`.cache/<name>/`) and the program in messages. */
  readonly name: string;
  readonly pom: string;
  /** The pom property holding the program's version (e.g. `kafka.version`). */
  readonly versionProperty: string;
  /** The error raised when the program cannot be made runnable; its message says why. */
  readonly unavailable: (reason: string, options?: ErrorOptions) => Error;
}

/** The resolved runtime: a folder holding every jar, and the program version they are. */
export interface MavenArtifacts {
  readonly version: string;
  readonly libDir: string;
  /** A `java -cp` value: the JVM expands `<libDir>/*` to every jar in the folder. */
  readonly classpath: string;
}

/**
 * Copies a program's runtime jars from the Maven repositories into `.cache/<name>/<version>-<pom hash>/`, once:
 * later calls, in this process or another, find the folder and return at once. The folder only ever appears by
 * an atomic rename of a complete download, and a lock file keeps two processes starting together from
 * downloading twice (a lock whose owner died is taken over).
 */
export async function resolveMavenArtifacts(program: MavenProgram): Promise<MavenArtifacts> {
  const pom = await readFile(program.pom, 'utf8');
  const property = program.versionProperty.replaceAll('.', '\\.');
  const version = new RegExp(`<${property}>([^<]+)</${property}>`).exec(pom)?.[1];
  if (!version) throw new Error(`${program.pom} declares no <${program.versionProperty}>`);
  const hash = createHash('sha256').update(pom).digest('hex').slice(0, 12);
  const cacheRoot = join(REPO_ROOT, '.cache', program.name);
  const libDir = join(cacheRoot, `${version}-${hash}`);
  const artifacts = { version, libDir, classpath: join(libDir, '*') };
  if (await exists(libDir)) return artifacts;

  await mkdir(cacheRoot, { recursive: true });
  const lock = `${libDir}.lock`;
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (!(await exists(libDir))) {
    if (Date.now() > deadline) {
      throw program.unavailable(
        `timed out waiting for another process to resolve ${program.name} ${version} (${lock})`,
      );
    }
    if (await tryLock(lock)) {
      try {
        if (!(await exists(libDir))) await download(program, cacheRoot, libDir);
      } finally {
        await unlink(lock).catch(() => undefined);
      }
    } else {
      await sleep(250);
    }
  }
  return artifacts;
}

async function download(program: MavenProgram, cacheRoot: string, libDir: string): Promise<void> {
  // Under the lock, any other staging folder for this version is what a killed download left behind.
  const prefix = `${basename(libDir)}.tmp-`;
  for (const name of await readdir(cacheRoot)) {
    if (name.startsWith(prefix)) await rm(join(cacheRoot, name), { recursive: true, force: true });
  }
  const staging = `${libDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const result = await runCommand(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        program.pom,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { timeoutMs: MVN_TIMEOUT_MS },
    ).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw program.unavailable(`Maven (\`mvn\`) is needed to fetch the ${program.name} jars`, {
          cause: error,
        });
      }
      throw program.unavailable(`could not fetch the ${program.name} jars: ${(error as Error).message}`, {
        cause: error,
      });
    });
    const jars = (await readdir(staging).catch(() => [])).filter((name) => name.endsWith('.jar'));
    if (result.code !== 0 || jars.length === 0) {
      throw program.unavailable(
        `\`mvn dependency:copy-dependencies\` failed (exit ${result.code}) for ${program.pom}:\n${result.output}`,
      );
    }
    await rename(staging, libDir).catch(async (error: unknown) => {
      // Another process, e.g. one that took over a lock it judged stale, finished first: its copy is as good.
      if (!(await exists(libDir))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Creates the lock file exclusively; removes it first when its owner is gone or it is older than any download. */
async function tryLock(lock: string): Promise<boolean> {
  try {
    const handle = await open(lock, 'wx');
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (await isStale(lock)) await unlink(lock).catch(() => undefined);
  return false;
}

async function isStale(lock: string): Promise<boolean> {
  const [owner, info] = await Promise.all([
    readFile(lock, 'utf8').catch(() => ''),
    stat(lock).catch(() => undefined),
  ]);
  if (!info) return false;
  if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
  const pid = Number.parseInt(owner, 10);
  // An empty file is a lock being written right now.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
