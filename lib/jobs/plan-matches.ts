import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../errors.ts';
import type { ImportExecutionInput, SourcePin } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { planMatchFile } from '../parquet/plan-matches.ts';
import { type PartsPlan, type PlannedPart, planMatchParts } from '../parquet/plan-parts.ts';
import { matchSourceShape, sourceParts } from '../parquet/source-parts.ts';
import type { MatchPlan } from '../parquet/types.ts';
import { pinOf } from '../storage/object-store.ts';
import type { RuntimeDeps } from './deps.ts';
import { recordJobParts } from './job-part-repository.ts';
import { claimImportJob, setJobTotal } from './job-repository.ts';
import { fixJobAsOf, pinJobSource, recordJobTerms } from './source-pin.ts';

/** What the plan step of a match import returns: the file's plan and the rows per database transaction. */
export interface MatchImportPlan extends MatchPlan {
  readonly dbBatchRows: number;
  /** The job is a dry run: its batches roll their target writes back. */
  readonly dryRun: boolean;
  /**
   * The version of the file every batch must read; for a sharded source, a digest of its parts and their
   * versions (each batch reads its part's own pin, recorded with the job).
   */
  readonly pin: SourcePin;
}

/**
 * The plan step of a match import: claims the job row, then plans the Parquet file from its footer alone
 * (one HEAD, two range reads): its columns are checked and its rows cut into batches of whole row groups
 * (a row group over `matchBatchRows` rows is split into parts). Nothing else of the file is read.
 *
 * A source naming a folder or prefix (trailing `/`) or a manifest is sharded: every part is planned from its
 * footer (see `planMatchParts`), the parts are recorded with the job (`import_job_parts`) and the batches of
 * all parts go to the one Map; the job's pin is a digest of the parts and their versions, so a resumed job
 * whose parts changed fails `SOURCE_CHANGED`.
 *
 * @throws InvalidRequestError `WRONG_KIND` when the input is not a match import; InvalidFileError from the
 *   footer and the columns (`NOT_PARQUET`, `TRUNCATED_FOOTER`, `MISSING_COLUMN`…, see `planMatchFile`), and
 *   of a sharded source `NO_PARTS`, `TOO_MANY_PARTS`, `INVALID_MANIFEST`, `PART_COLUMNS_DIFFER`.
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
  const { pool, config } = deps;
  await claimImportJob(pool, input, executionId);
  await recordJobTerms(pool, input.jobId, input);
  const started = Date.now();
  const { plan, pin, parts } =
    matchSourceShape(input.source.uri) === 'file'
      ? await planFile(deps, input)
      : await planParts(deps, input);
  await setJobTotal(pool, input.jobId, plan.total, plan.batches.length);
  logJob(input).info('planned match import', {
    source: input.source.uri,
    total: plan.total,
    columns: plan.columns.length,
    batches: plan.batches.length,
    ...(parts !== undefined ? { parts } : {}),
    durationMs: Date.now() - started,
  });
  return { ...plan, dbBatchRows: config.dbBatchRows, dryRun: input.dryRun === true, pin };
}

interface PlannedSource {
  readonly plan: MatchPlan;
  readonly pin: SourcePin;
  /** Parts of a sharded source. */
  readonly parts?: number;
}

async function planFile(deps: RuntimeDeps, input: ImportExecutionInput): Promise<PlannedSource> {
  const { pool, store, config } = deps;
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
  return { plan, pin };
}

async function planParts(deps: RuntimeDeps, input: ImportExecutionInput): Promise<PlannedSource> {
  const { pool, store, config } = deps;
  // Every part needs a batch of its own: more parts than batches could never be planned.
  const parts = sourceParts(store, input.source.uri, {
    maxParts: config.maxBatches,
    allowLocal: config.localMode,
  });
  const planned = await planMatchParts(store, parts, {
    maxRowsPerBatch: config.matchBatchRows,
    maxBatches: config.maxBatches,
  });
  const pin = partsPin(planned);
  await pinJobSource(pool, input.jobId, input.source.uri, pin);
  await fixJobAsOf(pool, input.jobId, input.asOf, newestModification(planned.parts));
  await recordJobParts(pool, input.jobId, planned.parts);
  const { columns, total, batches } = planned;
  return { plan: { columns, total, batches }, pin, parts: planned.parts.length };
}

/** When the newest part was written (ISO): the default as-of of a sharded source, as a file's is its own. */
function newestModification(parts: readonly PlannedPart[]): string | undefined {
  let newest: number | undefined;
  for (const part of parts) {
    const at = part.pin.modifiedAt === undefined ? Number.NaN : Date.parse(part.pin.modifiedAt);
    if (!Number.isNaN(at) && (newest === undefined || at > newest)) newest = at;
  }
  return newest === undefined ? undefined : new Date(newest).toISOString();
}

/** The pin of a sharded source: its bytes, and a digest of its parts' URIs and versions in part order. */
function partsPin(plan: PartsPlan): SourcePin {
  const digest = createHash('sha256');
  for (const part of plan.parts) digest.update(`${JSON.stringify([part.uri, part.pin])}\n`);
  return {
    size: plan.parts.reduce((sum, part) => sum + part.pin.size, 0),
    etag: `parts:${digest.digest('hex')}`,
  };
}
