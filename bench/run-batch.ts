// Child process of the import benchmark: one batch worker loading a whole plain CSV as a single byte
// range, as one load-batch Lambda would — its peak memory must not grow with the size of its range.
import { randomUUID } from 'node:crypto';
import { initConfig } from '../lib/config.ts';
import { loadBatch } from '../lib/jobs/load-batch.ts';
import { planImport } from '../lib/jobs/plan-import.ts';
import { closeRuntimeDeps, runtimeDeps } from '../lib/runtime/deps.ts';

const [file, databaseUrl, home, domainId, groupId] = process.argv.slice(2);
if (!file || !databaseUrl || !home || !domainId || !groupId) {
  throw new Error('usage: run-batch.ts <file.csv> <databaseUrl> <home> <domainId> <groupId>');
}
initConfig({
  DATABASE_URL: databaseUrl,
  MATCHBRIDGE_LOCAL: 'true',
  MATCHBRIDGE_HOME: home,
  SPLIT_BYTES: String(2 ** 40),
});
const deps = await runtimeDeps();
const job = { jobId: randomUUID(), kind: 'nodes' as const, domainId, groupId };
const plan = await planImport(deps, { ...job, source: { uri: file }, origin: 'bench' });
const batch = plan.batches[0];
if (!batch || plan.batches.length !== 1) throw new Error(`expected one batch, got ${plan.batches.length}`);
const started = process.hrtime.bigint();
const result = await loadBatch(
  deps,
  {
    ...job,
    header: plan.header,
    referenceColumn: plan.referenceColumn,
    dbBatchRows: plan.dbBatchRows,
    batch,
  },
  AbortSignal.timeout(3_600_000),
);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await closeRuntimeDeps();
process.stdout.write(
  `${JSON.stringify({
    rows: result.inserted + result.updated,
    bytes: batch.end - batch.start,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
