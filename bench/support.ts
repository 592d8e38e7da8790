// What the benchmarks share: a fresh database, a clean slate between runs, child runs and the printed table.
import { execFile, spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../lib/config.ts';
import { startEmbeddedPostgres } from '../lib/db/embedded.ts';
import { migrate } from '../lib/db/migrate.ts';

export const DATA = resolve('bench/.data');
export const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
export const config = loadConfig();
/** The local pipeline shares one pool per process: its database parallelism is the pool size. */
export const PARALLELISM = config.dbPoolSize;

/** One path's figures in a run. */
export interface Figures {
  readonly path: string;
  readonly rows: number;
  readonly seconds: number;
  readonly maxRssBytes?: number;
  /** CPU seconds spent by the path's own processes (the pipeline's Node process, or psql). */
  readonly clientCpuSeconds?: number;
  /** CPU seconds spent by the PostgreSQL server (every backend) during the path. */
  readonly serverCpuSeconds?: number;
}

/** A fresh, migrated database `name` on DATABASE_URL's server, or on an embedded one under bench/.data. */
export async function benchDatabase(name: string): Promise<{ url: string; stop(): Promise<void> }> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(resolve(DATA, 'pg'));
  const server = config.databaseUrl ?? embedded?.url ?? '';
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return { url: url.toString(), stop: async () => embedded?.stop() };
}

/** Empties the tables a run wrote and checkpoints, so the next path starts from the same state. */
export async function truncate(url: string, tables: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    `TRUNCATE ${[...tables, 'import_jobs', 'import_job_errors', 'job_status_events'].join(', ')} CASCADE`,
  );
  for (const table of tables) await client.query(`VACUUM ANALYZE ${table}`);
  await client.query('CHECKPOINT');
  await client.end();
}

/** Runs a bench child script and returns the JSON object it prints. */
export async function child<T>(script: string, args: string[], nodeFlags: string[] = []): Promise<T> {
  const proc = spawn(process.execPath, [...nodeFlags, script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => proc.on('close', done));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(out) as T;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime (own, or of waited-for children) of a process, in seconds, from /proc. */
async function processCpuSeconds(pid: number | 'self', children: boolean): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (field: number) => Number(fields[field - 3]);
  const ticks = children ? at(16) + at(17) : at(14) + at(15) + at(16) + at(17);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

async function postmasterPid(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ dir: string }>('SELECT current_setting($1) AS dir', [
    'data_directory',
  ]);
  await client.end();
  const pidFile = await readFile(resolve(rows[0]?.dir ?? '', 'postmaster.pid'), 'utf8');
  return Number(pidFile.split('\n')[0]);
}

/**
 * Runs `path` and adds the CPU seconds it cost: its child processes' (the client side) and the database
 * server's (every backend, reaped by the postmaster). On a machine with few cores these say more than the
 * wall time about where a path spends its effort. Needs /proc and the server on this machine.
 */
export async function withCpu(url: string, path: () => Promise<Figures>): Promise<Figures> {
  const server = await postmasterPid(url);
  const before = [await processCpuSeconds('self', true), await processCpuSeconds(server, false)];
  const figures = await path();
  // Give the postmaster a moment to reap the path's last backends, whose CPU it then accounts.
  await sleep(500);
  const after = [await processCpuSeconds('self', true), await processCpuSeconds(server, false)];
  return {
    ...figures,
    clientCpuSeconds: (after[0] ?? 0) - (before[0] ?? 0),
    serverCpuSeconds: (after[1] ?? 0) - (before[1] ?? 0),
  };
}

/** Prints each path's time, rows/s, its ratio to the reference and its peak RSS. */
export function printTable(title: string, results: readonly Figures[], reference: Figures): void {
  const rate = (f: Figures) => f.rows / f.seconds;
  const width = Math.max(...results.map((f) => f.path.length));
  process.stdout.write(`\n${title}\n`);
  for (const f of results) {
    process.stdout.write(
      `${f.path.padEnd(width)} ${f.seconds.toFixed(1).padStart(7)} s ${Math.round(rate(f))
        .toLocaleString('en-US')
        .padStart(9)} rows/s  ${(rate(f) / rate(reference)).toFixed(2)}×` +
        (f.maxRssBytes ? `  peak RSS ${(f.maxRssBytes / 2 ** 20).toFixed(0)} MB` : '') +
        (f.serverCpuSeconds === undefined
          ? ''
          : `  CPU ${f.clientCpuSeconds?.toFixed(1)} s client + ${f.serverCpuSeconds.toFixed(1)} s PostgreSQL`) +
        '\n',
    );
  }
}

/**
 * Times the reference path: one `psql -f` per part file, all at once (the same database parallelism as the
 * pipeline), each script built by `script(part)`. The part files and scripts are removed afterwards.
 */
export async function timedPsqlRun(
  url: string,
  parts: readonly string[],
  script: (part: string) => string,
): Promise<number> {
  const scripts = await Promise.all(
    parts.map(async (part) => {
      const file = `${part}.sql`;
      await writeFile(file, script(part));
      return file;
    }),
  );
  const psql = promisify(execFile);
  const started = process.hrtime.bigint();
  await Promise.all(scripts.map((file) => psql('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-f', file])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all([...parts, ...scripts].map((file) => rm(file)));
  return seconds;
}
