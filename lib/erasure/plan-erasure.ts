import { planCsvRanges } from '../csv/plan-csv.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { claimImportJob, setJobTotal } from '../jobs/job-repository.ts';
import type { ErasureExecutionInput, ImportPlan } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { pinOf } from '../storage/object-store.ts';
import { createErasureRecord, type ErasureScope } from './erasure-repository.ts';

/** The scope of an erasure execution. */
export function erasureScope(input: ErasureExecutionInput): ErasureScope {
  return {
    jobId: input.jobId,
    domainId: input.domainId,
    groupId: input.groupId,
    everyGroup: input.everyGroup,
  };
}

/**
 * The plan step of an erasure: claims the job, opens its erasure record, and cuts the staged id list (a
 * one-column CSV, written as a reference import stages its list) into byte ranges, one per Map batch. Each
 * batch erases its ids in transactions of `referenceBatchRows` ids.
 */
export async function planErasure(deps: RuntimeDeps, input: ErasureExecutionInput): Promise<ImportPlan> {
  const { pool, store, config } = deps;
  await claimImportJob(pool, input);
  const info = await store.head(input.source.uri);
  const plan = await planCsvRanges(await store.read(info.uri), {
    uri: info.uri,
    size: info.size,
    splitBytes: config.splitBytes,
    maxBatches: config.maxBatches,
    maxRecordBytes: config.maxRecordBytes,
  });
  await setJobTotal(pool, input.jobId, plan.total);
  await createErasureRecord(pool, erasureScope(input), input.origin, plan.total);
  logJob(input).info('planned erasure', { total: plan.total, batches: plan.batches.length });
  // The staged list is pinned like any source: a batch never reads another list than the plan cut.
  return { ...plan, dbBatchRows: config.referenceBatchRows, pin: pinOf(info), dryRun: false };
}
