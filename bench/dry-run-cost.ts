// What a dry run of the benchmark file costs next to a real run (issue 22): the same 1M-row CSV.gz through
// the local pipeline, dry on a fresh group, real on it, then dry and real again on the loaded group (every
// row an update). `npm run bench:dry-run`; BENCH_ROWS changes the size.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeNodeCsv } from './generate-nodes.ts';
import { benchDatabase, child, DATA, type Figures, printTable, ROWS, withCpu } from './support.ts';

const FILE = resolve(DATA, `nodes-${ROWS}.csv.gz`);
const DOMAIN = '7d4f8c1e-5b3a-4e2d-9f10-2a6b8c9d0e1f';

async function pipelineRun(url: string, mode: 'real' | 'dry-run', label: string): Promise<Figures> {
  const result = await child<{ status: string; processed: number; seconds: number; maxRssBytes: number }>(
    'bench/run-pipeline.ts',
    [FILE, url, resolve(DATA, 'home'), DOMAIN, 'bench-dry-run', 'nodes', mode],
  );
  if (result.status !== 'COMPLETED' || result.processed !== ROWS) {
    throw new Error(`${label} did not count every row: ${JSON.stringify(result)}`);
  }
  return { path: label, rows: result.processed, ...result };
}

await mkdir(DATA, { recursive: true });
if (!existsSync(FILE)) {
  process.stderr.write(`generating ${FILE}\n`);
  await writeNodeCsv(FILE, ROWS);
}
const db = await benchDatabase('mb_bench_dry_run');
try {
  const results: Figures[] = [];
  for (const [mode, label] of [
    ['dry-run', 'dry run, fresh group'],
    ['real', 'real run, fresh group'],
    ['dry-run', 'dry run, loaded group'],
    ['real', 'real run, loaded group'],
  ] as const) {
    results.push(await withCpu(db.url, () => pipelineRun(db.url, mode, label)));
  }
  printTable(`dry run vs real run: ${ROWS.toLocaleString('en-US')} rows`, results, results[1]!);
} finally {
  await db.stop();
}
