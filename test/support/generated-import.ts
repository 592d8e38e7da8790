/**
 * Runs one node import of a generated CSV (see generated-csv.ts) in this process, through the real plan,
 * batch load and finalize steps with the store serving the generated file, and prints one JSON line: the
 * status message, the plan's batch count and each phase's time. Run as a child process by the faults
 * suite, with the memory probe, so that the memory measured is the import's own:
 *   node test/support/generated-import.ts '{"rows":…,"rowBytes":…,"domainId":…,"groupId":…,"concurrency":…}'
 * with DATABASE_URL, MATCHBRIDGE_LOCAL and MATCHBRIDGE_HOME in the environment.
 */
import { randomUUID } from 'node:crypto';
import { finalizeImport } from '../../lib/jobs/finalize-import.ts';
import { loadBatch } from '../../lib/jobs/load-batch.ts';
import { planImport } from '../../lib/jobs/plan-import.ts';
import { useLocalAdapters } from '../../lib/local/adapters.ts';
import type { BatchResult, ImportExecutionInput } from '../../lib/model/types.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../lib/runtime/deps.ts';
import { generatedCsv, generatedCsvStore } from './generated-csv.ts';

interface Request {
  readonly rows: number;
  readonly rowBytes: number;
  readonly domainId: string;
  readonly groupId: string;
  /** Batches loading at once (the Map's concurrency). */
  readonly concurrency: number;
}

/** What the child prints. */
export interface GeneratedImportReport {
  readonly message: Awaited<ReturnType<typeof finalizeImport>>;
  readonly bytes: number;
  readonly batches: number;
  readonly planMs: number;
  readonly loadMs: number;
}

useLocalAdapters();
const request = JSON.parse(process.argv[2] ?? '{}') as Request;
const csv = generatedCsv(request.rows, request.rowBytes);
const uri = `s3://mb-generated/${request.groupId}.csv`;
const base = await runtimeDeps();
const deps = { ...base, store: generatedCsvStore(base.store, uri, csv) };
const input: ImportExecutionInput = {
  jobId: randomUUID(),
  kind: 'nodes',
  domainId: request.domainId,
  groupId: request.groupId,
  source: { uri, contentType: 'text/csv' },
  origin: 'test',
};
try {
  const planned = Date.now();
  const plan = await planImport(deps, input);
  const loading = Date.now();
  const batchInput = { ...input, header: plan.header, referenceColumn: plan.referenceColumn };
  const results: BatchResult[] = [];
  let next = 0;
  // A fixed number of workers taking the next batch, as the Map state runs its iterations.
  await Promise.all(
    Array.from({ length: request.concurrency }, async () => {
      for (let i = next++; i < plan.batches.length; i = next++) {
        const batch = plan.batches[i]!;
        const signal = new AbortController().signal;
        results[i] = await loadBatch(deps, { ...batchInput, dbBatchRows: plan.dbBatchRows, batch }, signal);
      }
    }),
  );
  const loaded = Date.now();
  const message = await finalizeImport(deps, { ...input, plan, results });
  const report: GeneratedImportReport = {
    message,
    bytes: csv.size,
    batches: plan.batches.length,
    planMs: loading - planned,
    loadMs: loaded - loading,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await closeRuntimeDeps();
}
