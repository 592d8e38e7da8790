import { InvalidRequestError } from '../errors.ts';
import type { ImportExecutionInput, SourcePin } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { planMatchFile } from '../parquet/plan-matches.ts';
import type { MatchPlan } from '../parquet/types.ts';
import { pinOf } from '../storage/object-store.ts';
import type { RuntimeDeps } from './deps.ts';
import { claimImportJob, setJobTotal } from './job-repository.ts';
import { fixJobAsOf, pinJobSource, recordJobTerms } from './source-pin.ts';

/** What the plan step of a match import returns: the file's plan and the rows per database transaction. */
export interface MatchImportPlan extends MatchPlan {
  readonly dbBatchRows: number;
  /** The job is a dry run: its batches roll their target writes back. */
  readonly dryRun: boolean;
  /** The version of the file every batch must read. */
  readonly pin: SourcePin;
}

/**
 * The plan step of a match import: claims the job row, then plans the Parquet file from its footer alone
 * (one HEAD, two range reads): its columns are checked and its rows cut into batches of whole row groups
 * (a row group over `matchBatchRows` rows is split into parts). Nothing else of the file is read.
 *
 * @throws InvalidRequestError `WRONG_KIND` when the input is not a match import; InvalidFileError from the
 *   footer and the columns (`NOT_PARQUET`, `TRUNCATED_FOOTER`, `MISSING_COLUMN`…, see `planMatchFile`).
 */
export async function planMatches(
  deps: RuntimeDeps,
  input: ImportExecutionInput,
  executionId?: string,
): Promise<MatchImportPlan> {
  if (input.kind !== 'matches') {
    throw new InvalidRequestError('WRONG_KIND', `a match import got a ${input.kind} job`, {
      kind: input.kind,
    });
  }
  const { pool, store, config } = deps;
  await claimImportJob(pool, input, executionId);
  await recordJobTerms(pool, input.jobId, input);
  const started = Date.now();
  const info = await store.head(input.source.uri);
  const pin = pinOf(info);
  await pinJobSource(pool, input.jobId, input.source.uri, pin);
  // The engine's run time: the request's asOf, else when the file (or folder's newest part) was written.
  await fixJobAsOf(pool, input.jobId, input.asOf, info.modifiedAt);
  const plan = await planMatchFile(store, input.source.uri, {
    pin,
    maxRowsPerBatch: config.matchBatchRows,
    maxBatches: config.maxBatches,
  });
  await setJobTotal(pool, input.jobId, plan.total, plan.batches.length);
  logJob(input).info('planned match import', {
    source: input.source.uri,
    total: plan.total,
    columns: plan.columns.length,
    batches: plan.batches.length,
    durationMs: Date.now() - started,
  });
  return { ...plan, dbBatchRows: config.dbBatchRows, dryRun: input.dryRun === true, pin };
}
