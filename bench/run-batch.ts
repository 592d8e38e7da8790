// Child process of the import benchmarks: one batch worker loading a whole file as a single batch, as one
// load-batch (CSV: one byte range) or load-match-batch (Parquet: every row group) Lambda would — its peak
// memory must not grow with the size of its batch.
import { randomUUID } from 'node:crypto';
import { loadBatch } from '../lib/jobs/load-batch.ts';
import { loadMatchBatch } from '../lib/jobs/load-match-batch.ts';
import { planImport } from '../lib/jobs/plan-import.ts';
import { planMatches } from '../lib/jobs/plan-matches.ts';
import { initLocalConfig } from '../lib/local/adapters.ts';
import type { BatchResult } from '../lib/model/types.ts';
import { closeRuntimeDeps, runtimeDeps } from '../lib/runtime/deps.ts';
import { NUMERIC_SETTINGS } from '../lib/settings.ts';

const [file, databaseUrl, home, domainId, groupId, kind = 'nodes'] = process.argv.slice(2);
if (!file || !databaseUrl || !home || !domainId || !groupId || (kind !== 'nodes' && kind !== 'matches')) {
  throw new Error('usage: run-batch.ts <file> <databaseUrl> <home> <domainId> <groupId> [nodes|matches]');
}
// The largest range and match batch the settings allow: the benchmark files fit in one.
initLocalConfig({
  DATABASE_URL: databaseUrl,
  MATCHBRIDGE_HOME: home,
  SPLIT_BYTES: String(NUMERIC_SETTINGS.splitBytes.max),
  MATCH_BATCH_ROWS: String(NUMERIC_SETTINGS.matchBatchRows.max),
});
const deps = await runtimeDeps();
const job = { jobId: randomUUID(), domainId, groupId };
const deadline = AbortSignal.timeout(3_600_000);

function onlyBatch<T>(batches: readonly T[]): T {
  const [batch] = batches;
  if (!batch || batches.length !== 1) throw new Error(`expected one batch, got ${batches.length}`);
  return batch;
}

async function load(): Promise<BatchResult> {
  if (kind === 'matches') {
    const input = { ...job, kind: 'matches' as const, source: { uri: file ?? '' }, origin: 'bench' };
    const plan = await planMatches(deps, input);
    const batch = onlyBatch(plan.batches);
    return loadMatchBatch(deps, { ...input, uri: input.source.uri, ...plan, batch }, deadline);
  }
  const input = { ...job, kind: 'nodes' as const, source: { uri: file ?? '' }, origin: 'bench' };
  const plan = await planImport(deps, input);
  const batch = onlyBatch(plan.batches);
  return loadBatch(deps, { ...input, ...plan, batch }, deadline);
}

const started = process.hrtime.bigint();
const result = await load();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await closeRuntimeDeps();
process.stdout.write(
  `${JSON.stringify({
    rows: result.inserted + result.updated,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
