// `npm run bench:matches`: a deterministic 1M-row match suggestions Parquet file (4 row groups) imported
// through the local pipeline (the synthesized match-import state machine), and the same rows loaded in the
// same run by the naive reference path: the rows as CSV through `psql \copy` into a temp table, then the
// same de-duplicating upsert into match_suggestions, at the same database parallelism.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { MatchRowVisitor } from '../lib/matches/match-rows.ts';
import { planMatchFile } from '../lib/parquet/plan-matches.ts';
import { readMatchRuns } from '../lib/parquet/read-matches.ts';
import { configuredObjectStore } from '../lib/storage/configured-store.ts';
import { generatedMatch, writeMatchParquet } from './generate-matches.ts';
import {
  benchDatabase,
  child,
  config,
  DATA,
  type Figures,
  PARALLELISM,
  printTable,
  ROWS,
  timedPsqlRun,
  truncate,
  withCpu,
} from './support.ts';

const run = promisify(execFile);
const ROW_GROUPS = 4;
const FILE = resolve(DATA, `matches-${ROWS}.parquet`);
const DOMAIN = '2c9e7a1d-4b3f-4e8a-9d6c-5f1a0b2e3c4d';

async function pipelineRun(url: string, group: string): Promise<Figures> {
  const result = await child<{ status: string; processed: number; seconds: number; maxRssBytes: number }>(
    'bench/run-pipeline.ts',
    [FILE, url, resolve(DATA, 'home'), DOMAIN, group, 'matches'],
  );
  if (result.status !== 'COMPLETED' || result.processed !== ROWS) {
    throw new Error(`pipeline did not load every row: ${JSON.stringify(result)}`);
  }
  return { path: 'matchbridge local pipeline (Parquet)', rows: result.processed, ...result };
}

/** V8 flags of the single-worker run: a capped heap shows the worker's memory is bounded (V8 otherwise grows
 * its heap lazily with the work done), small semi-spaces keep it from reserving young space it does not need. */
const WORKER_FLAGS = ['--max-old-space-size=96', '--max-semi-space-size=4'];

/** One batch worker loading every row group of the file as one batch: memory must stay flat in its size. */
async function singleWorkerRun(url: string, group: string): Promise<Figures> {
  const result = await child<{ rows: number; seconds: number; maxRssBytes: number }>(
    'bench/run-batch.ts',
    [FILE, url, resolve(DATA, 'home'), DOMAIN, group, 'matches'],
    WORKER_FLAGS,
  );
  return { path: 'one batch worker, whole file as one batch, heap ≤ 96 MB', ...result };
}

/**
 * The Parquet side alone, in this process: every batch's row groups read, decoded and checked row by row as
 * the loader sees them, no database. The goal for this figure is ≥ 300K rows/s.
 */
async function parseOnlyRun(): Promise<Figures> {
  const store = configuredObjectStore({ ...config, localMode: true });
  const started = process.hrtime.bigint();
  const plan = await planMatchFile(store, FILE, {
    maxRowsPerBatch: config.matchBatchRows,
    maxBatches: config.maxBatches,
  });
  let rows = 0;
  const visitor: MatchRowVisitor = {
    valid: () => {
      rows += 1;
    },
    rejected: () => {
      rows += 1;
    },
  };
  for (const batch of plan.batches) {
    for await (const run of readMatchRuns(store, FILE, batch, plan.columns)) run.visit(visitor);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (rows !== ROWS) throw new Error(`parsed ${rows} rows of ${ROWS}`);
  return { path: 'Parquet parse only (decode + row checks, no database)', rows, seconds };
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
  const seconds = await timedPsqlRun(url, parts, (part) => referenceScript(part, group));
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
  printTable(
    `match import benchmark: ${ROWS.toLocaleString('en-US')} rows, ${ROW_GROUPS} row groups, database parallelism ${PARALLELISM}`,
    results,
    reference,
  );
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
const db = await benchDatabase('mb_bench_matches');
try {
  const pipeline = await withCpu(db.url, () => pipelineRun(db.url, 'bench-pipeline'));
  if ((await count(db.url, 'bench-pipeline')) !== ROWS)
    throw new Error('the pipeline did not store every row');
  await truncate(db.url, ['match_suggestions']);
  const worker = await withCpu(db.url, () => singleWorkerRun(db.url, 'bench-worker'));
  await truncate(db.url, ['match_suggestions']);
  const reference = await withCpu(db.url, () => referenceRun(db.url, 'bench-reference'));
  if ((await count(db.url, 'bench-reference')) !== ROWS)
    throw new Error('the reference did not store every row');
  table([reference, pipeline, worker, await parseOnlyRun()], reference);
} finally {
  await db.stop();
}
