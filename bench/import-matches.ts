// `npm run bench:matches`: a deterministic 1M-row match suggestions Parquet file (4 row groups) imported
// through the local pipeline (the synthesized match-import state machine), and the same rows loaded in the
// same run by the naive reference path: the rows as CSV through `psql \copy` into a temp table, then the
// same de-duplicating upsert into match_suggestions, at the same database parallelism.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../lib/config.ts';
import { startEmbeddedPostgres } from '../lib/db/embedded.ts';
import { migrate } from '../lib/db/migrate.ts';
import { generatedMatch, writeMatchParquet } from './generate-matches.ts';

const run = promisify(execFile);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ROW_GROUPS = 4;
const DATA = resolve('bench/.data');
const FILE = resolve(DATA, `matches-${ROWS}.parquet`);
const DOMAIN = '2c9e7a1d-4b3f-4e8a-9d6c-5f1a0b2e3c4d';
const config = loadConfig();
// The local pipeline shares one pool per process: its database parallelism is the pool size.
const PARALLELISM = config.dbPoolSize;

interface Figures {
  readonly path: string;
  readonly rows: number;
  readonly seconds: number;
  readonly maxRssBytes?: number;
}

async function database(): Promise<{ url: string; stop(): Promise<void> }> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(resolve(DATA, 'pg'));
  const server = config.databaseUrl ?? embedded?.url ?? '';
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS mb_bench_matches WITH (FORCE)');
  await admin.query('CREATE DATABASE mb_bench_matches');
  await admin.end();
  const url = new URL(server);
  url.pathname = '/mb_bench_matches';
  await migrate(url.toString());
  return { url: url.toString(), stop: async () => embedded?.stop() };
}

async function truncate(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('TRUNCATE match_suggestions, import_jobs, import_job_errors, job_status_events CASCADE');
  await client.query('VACUUM ANALYZE match_suggestions');
  await client.query('CHECKPOINT');
  await client.end();
}

async function pipelineRun(url: string, group: string): Promise<Figures> {
  const proc = spawn(
    process.execPath,
    ['bench/run-pipeline.ts', FILE, url, resolve(DATA, 'home'), DOMAIN, group, 'matches'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
    },
  );
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(proc, 'close')) as [number | null];
  if (code !== 0) throw new Error(`run-pipeline.ts exited with ${code}`);
  const result = JSON.parse(out) as {
    status: string;
    processed: number;
    seconds: number;
    maxRssBytes: number;
  };
  if (result.status !== 'COMPLETED' || result.processed !== ROWS) {
    throw new Error(`pipeline did not load every row: ${JSON.stringify(result)}`);
  }
  return { path: 'matchbridge local pipeline (Parquet)', rows: result.processed, ...result };
}

/** The same rows as one plain CSV per connection, round-robin (not timed). */
async function writeReferenceCsv(parts: number): Promise<string[]> {
  const paths = Array.from({ length: parts }, (_, i) => resolve(DATA, `matches-reference-${i}.csv`));
  const outs = paths.map((path) => createWriteStream(path));
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  for (let i = 0; i < ROWS; i++) {
    const m = generatedMatch(i);
    const line = `${quote(m.participant_id ?? '')},${quote(m.matched_participant_id ?? '')},${m.compatibility_score},${
      m.rank ?? ''
    },${quote(m.model)},${m.reason_code}\n`;
    const out = outs[i % parts];
    if (out && !out.write(line)) await once(out, 'drain');
  }
  await Promise.all(outs.map((out) => new Promise<void>((done) => out.end(() => done()))));
  return paths;
}

function referenceScript(path: string, group: string): string {
  return `BEGIN;
CREATE TEMP TABLE t (participant_id text COLLATE "C", matched_participant_id text COLLATE "C",
  compatibility_score double precision, rank integer, model text, reason_code integer) ON COMMIT DROP;
\\copy t FROM '${path}' WITH (FORMAT csv)
INSERT INTO match_suggestions AS m (domain_id, group_id, participant_id, matched_participant_id,
  compatibility_score, rank, details)
SELECT DISTINCT ON (participant_id, matched_participant_id) '${DOMAIN}', '${group}', participant_id,
  matched_participant_id, compatibility_score, rank,
  jsonb_strip_nulls(jsonb_build_object('model', model, 'reason_code', reason_code))
FROM t ORDER BY participant_id, matched_participant_id
ON CONFLICT (domain_id, group_id, participant_id, matched_participant_id) DO UPDATE SET
  compatibility_score = excluded.compatibility_score, rank = excluded.rank, details = excluded.details,
  updated_at = now();
COMMIT;
`;
}

async function referenceRun(url: string, group: string): Promise<Figures> {
  const parts = await writeReferenceCsv(PARALLELISM);
  const scripts = await Promise.all(
    parts.map(async (path) => {
      const script = `${path}.sql`;
      await writeFile(script, referenceScript(path, group));
      return script;
    }),
  );
  const started = process.hrtime.bigint();
  await Promise.all(scripts.map((script) => run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-f', script])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all([...parts, ...scripts].map((path) => rm(path)));
  return { path: 'CSV: psql \\copy + the same upsert', rows: ROWS, seconds };
}

async function count(url: string, group: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const result = await client.query<{ n: string }>(
    'SELECT count(*) AS n FROM match_suggestions WHERE domain_id = $1 AND group_id = $2',
    [DOMAIN, group],
  );
  await client.end();
  return Number(result.rows[0]?.n);
}

function table(results: Figures[], reference: Figures): void {
  const rate = (f: Figures) => f.rows / f.seconds;
  process.stdout.write(
    `\nmatch import benchmark: ${ROWS.toLocaleString('en-US')} rows, ${ROW_GROUPS} row groups, database parallelism ${PARALLELISM}\n`,
  );
  for (const f of results) {
    process.stdout.write(
      `${f.path.padEnd(40)} ${f.seconds.toFixed(1).padStart(7)} s ${Math.round(rate(f)).toLocaleString('en-US').padStart(9)} rows/s` +
        `  ${(rate(f) / rate(reference)).toFixed(2)}×` +
        (f.maxRssBytes ? `  peak RSS ${(f.maxRssBytes / 2 ** 20).toFixed(0)} MB` : '') +
        '\n',
    );
  }
}

await mkdir(DATA, { recursive: true });
if (!existsSync(FILE)) {
  process.stderr.write(`generating ${FILE}\n`);
  writeMatchParquet(FILE, ROWS, { codec: 'SNAPPY', rowGroupRows: Math.ceil(ROWS / ROW_GROUPS) });
}
process.stderr.write(`${FILE}: ${((await stat(FILE)).size / 2 ** 20).toFixed(1)} MB\n`);
await run('psql', ['--version']).catch(() => {
  throw new Error('the reference path needs psql on PATH');
});
const db = await database();
try {
  const pipeline = await pipelineRun(db.url, 'bench-pipeline');
  if ((await count(db.url, 'bench-pipeline')) !== ROWS)
    throw new Error('the pipeline did not store every row');
  await truncate(db.url);
  const reference = await referenceRun(db.url, 'bench-reference');
  if ((await count(db.url, 'bench-reference')) !== ROWS)
    throw new Error('the reference did not store every row');
  table([reference, pipeline], reference);
} finally {
  await db.stop();
}
