// What the benchmarks share: a fresh database, a clean slate between runs, child runs and the printed table.
import { execFile, spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
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
