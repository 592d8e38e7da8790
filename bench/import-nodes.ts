// `npm run bench:import`: a deterministic 1M-row nodes CSV.gz imported through the local pipeline, and the
// same rows loaded in the same run by the naive reference path (`psql \copy` into a temp table, then
// INSERT … ON CONFLICT … RETURNING feeding the metadata upsert) at the same database parallelism.
// Then each path loads the same file again into its loaded group: the re-import of a resend or a replay.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline as pipelineStreams } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { BENCH_COLUMNS, writeNodeCsv } from './generate-nodes.ts';
import {
  benchDatabase,
  child,
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
const FILE = resolve(DATA, `nodes-${ROWS}.csv.gz`);
const DOMAIN = '7d4f8c1e-5b3a-4e2d-9f10-2a6b8c9d0e1f';

async function pipelineRun(
  url: string,
  group: string,
  path = 'matchbridge local pipeline',
): Promise<Figures> {
  const result = await child<{ status: string; processed: number; seconds: number; maxRssBytes: number }>(
    'bench/run-pipeline.ts',
    [FILE, url, resolve(DATA, 'home'), DOMAIN, group],
  );
  if (result.status !== 'COMPLETED' || result.processed !== ROWS) {
    throw new Error(`pipeline did not load every row: ${JSON.stringify(result)}`);
  }
  return { path, rows: result.processed, ...result };
}

/** Heap limit of the single-worker run. */
const WORKER_HEAP_MB = 64;

/** One batch worker loading the whole file as a single range: memory must stay flat in the range size. */
async function singleWorkerRun(url: string, group: string): Promise<Figures> {
  const plain = resolve(DATA, `nodes-${ROWS}.csv`);
  if (!existsSync(plain))
    await pipelineStreams(createReadStream(FILE), createGunzip(), createWriteStream(plain));
  // A capped heap shows the worker's memory is bounded: V8 otherwise grows its heap lazily with the work done.
  const result = await child<{ rows: number; seconds: number; maxRssBytes: number }>(
    'bench/run-batch.ts',
    [plain, url, resolve(DATA, 'home'), DOMAIN, group],
    [`--max-old-space-size=${WORKER_HEAP_MB}`],
  );
  return { path: `one batch worker, whole file as one range, heap ≤ ${WORKER_HEAP_MB} MB`, ...result };
}

/** Splits the decompressed data rows round-robin into one plain CSV per connection (not timed). */
async function splitForReference(parts: number): Promise<string[]> {
  const paths = Array.from({ length: parts }, (_, i) => resolve(DATA, `reference-${i}.csv`));
  const outs = paths.map((path) => createWriteStream(path));
  const lines = createInterface({ input: createReadStream(FILE).pipe(createGunzip()), crlfDelay: Infinity });
  let index = -1;
  for await (const line of lines) {
    if (index >= 0) {
      const out = outs[index % parts];
      if (out && !out.write(`${line}\n`)) await once(out, 'drain');
    }
    index += 1;
  }
  await Promise.all(outs.map((out) => new Promise<void>((done) => out.end(() => done()))));
  return paths;
}

function referenceScript(path: string, group: string): string {
  const metadata = BENCH_COLUMNS.slice(1)
    .map((c) => `'${c}', NULLIF(t.${c}, '')`)
    .join(', ');
  return `BEGIN;
CREATE TEMP TABLE t (${BENCH_COLUMNS.map((c) => `${c} text`).join(', ')}) ON COMMIT DROP;
\\copy t FROM '${path}' WITH (FORMAT csv)
WITH up AS (
  INSERT INTO nodes (reference_id, group_id, domain_id)
  SELECT DISTINCT ON (reference_id) reference_id, '${group}', '${DOMAIN}' FROM t
  ON CONFLICT (domain_id, group_id, reference_id) DO UPDATE SET updated_at = now()
  RETURNING id, reference_id
)
INSERT INTO node_metadata (node_id, domain_id, metadata)
SELECT up.id, '${DOMAIN}', jsonb_strip_nulls(jsonb_build_object(${metadata}))
FROM up JOIN t USING (reference_id)
ON CONFLICT (node_id) DO UPDATE SET metadata = excluded.metadata;
COMMIT;
`;
}

async function referenceRun(
  url: string,
  group: string,
  path = 'psql \\copy + INSERT … ON CONFLICT … RETURNING',
): Promise<Figures> {
  const parts = await splitForReference(PARALLELISM);
  const seconds = await timedPsqlRun(url, parts, (part) => referenceScript(part, group));
  return { path, rows: ROWS, seconds };
}

function table(title: string, results: Figures[], reference: Figures): void {
  printTable(
    `nodes import benchmark, ${title}: ${ROWS.toLocaleString('en-US')} rows, database parallelism ${PARALLELISM}`,
    results,
    reference,
  );
}

await mkdir(DATA, { recursive: true });
if (!existsSync(FILE)) {
  process.stderr.write(`generating ${FILE}\n`);
  await writeNodeCsv(FILE, ROWS);
}
await run('psql', ['--version']).catch(() => {
  throw new Error('the reference path needs psql on PATH');
});
const db = await benchDatabase('mb_bench');
try {
  // Each path loads its own group, then loads the same file again into it (every row an existing node whose
  // metadata did not change): the re-import a producer's resend or a replay costs.
  const pipeline = await withCpu(db.url, () => pipelineRun(db.url, 'bench-pipeline'));
  const pipelineAgain = await withCpu(db.url, () =>
    pipelineRun(db.url, 'bench-pipeline', 'matchbridge local pipeline, same file again'),
  );
  await truncate(db.url, ['nodes', 'node_metadata']);
  const reference = await withCpu(db.url, () => referenceRun(db.url, 'bench-reference'));
  const referenceAgain = await withCpu(db.url, () =>
    referenceRun(db.url, 'bench-reference', 'psql \\copy + INSERT … ON CONFLICT, same file again'),
  );
  await truncate(db.url, ['nodes', 'node_metadata']);
  const worker = await withCpu(db.url, () => singleWorkerRun(db.url, 'bench-worker'));
  table('fresh group', [reference, pipeline, worker], reference);
  table('re-import into the loaded group', [referenceAgain, pipelineAgain], referenceAgain);
  process.stdout.write(
    `(the pipeline runs every batch worker in one process; "one batch worker" uses one connection)\n`,
  );
} finally {
  await db.stop();
}
