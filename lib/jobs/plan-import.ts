import { buffer } from 'node:stream/consumers';
import type { Config } from '../config.ts';
import { isGzip, planGzipParts } from '../csv/gzip-parts.ts';
import { planCsvRanges } from '../csv/plan-csv.ts';
import { InvalidFileError } from '../errors.ts';
import type { ImportExecutionInput, ImportPlan } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { pinOf } from '../storage/object-store.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import type { RuntimeDeps } from './deps.ts';
import { claimImportJob, setJobTotal } from './job-repository.ts';
import { removeNodes } from './remove-nodes.ts';
import { fixJobAsOf, pinJobSource, recordJobTerms } from './source-pin.ts';

const PART_NAME_DIGITS = 5;

/**
 * The plan step: claims the job row, checks the source object and cuts it into record-aligned batches.
 * A plain CSV is scanned once and cut into byte ranges of the original object; a .csv.gz is decompressed
 * once into record-aligned parts under the job's staging prefix (gzip cannot be range-read). Every read of
 * the source, here and in the batches, is pinned to the version the HEAD found (recorded with the job, so a
 * resumed job plans against the same version or fails `SOURCE_CHANGED`); the job's as-of is fixed here
 * too (see `fixJobAsOf`). A request's removals
 * (`removeReferenceIds`) are carried out here, before any batch loads; a job of removals alone plans no batch.
 */
export async function planImport(
  deps: RuntimeDeps,
  input: ImportExecutionInput,
  executionId?: string,
): Promise<ImportPlan> {
  const log = logJob(input);
  const { pool, store, config } = deps;
  await claimImportJob(pool, input, executionId);
  await recordJobTerms(pool, input.jobId, input);
  // Removals go before any batch: a request never names one id in both lists (the export sends ready
  // members or removed ones), and a plan retried removes only what is left. A dry run removes nothing. They
  // wait for the job's as-of (a node holding newer data stays), which a file's last-modified time sets.
  const remove = async () => {
    if (input.removals && !input.dryRun) await removeNodes(deps, input, input.removals);
  };
  if (input.source.kind === 'removals') {
    await fixJobAsOf(pool, input.jobId, input.asOf, undefined);
    await remove();
    await setJobTotal(pool, input.jobId, 0);
    return {
      header: ['reference_id'],
      referenceColumn: 0,
      total: 0,
      batches: [],
      dbBatchRows: config.referenceBatchRows,
      pin: null,
      dryRun: input.dryRun === true,
    };
  }
  const info = await store.head(input.source.uri);
  if (info.size === 0) throw new InvalidFileError('EMPTY_FILE', `file is empty: ${input.source.uri}`);
  const pin = pinOf(info);
  await pinJobSource(pool, input.jobId, info.uri, pin);
  await fixJobAsOf(pool, input.jobId, input.asOf, info.modifiedAt);
  await remove();
  const head = await buffer(await store.read(info.uri, { start: 0, end: Math.min(2, info.size) }, pin));
  const gzip = isGzip(head, input.source.fileName ?? info.uri, input.source.contentType ?? info.contentType);
  const started = Date.now();
  const plan = gzip
    ? await planGzipParts(await store.read(info.uri, undefined, pin), {
        uri: info.uri,
        ...splitOptions(config),
        maxRatio: config.maxGzipRatio,
        writePart: (index, body) =>
          store.write(pipelineObjectUri(config, 'staging', input.jobId, 'parts', partName(index)), body, {
            contentType: 'text/csv',
          }),
      })
    : await planCsvRanges(await store.read(info.uri, undefined, pin), {
        uri: info.uri,
        size: info.size,
        ...splitOptions(config),
      });
  await setJobTotal(pool, input.jobId, plan.total, plan.batches.length);
  const dbBatchRows = input.source.kind === 'references' ? config.referenceBatchRows : config.dbBatchRows;
  log.info('planned import', {
    source: info.uri,
    bytes: info.size,
    gzip,
    total: plan.total,
    batches: plan.batches.length,
    durationMs: Date.now() - started,
  });
  return { ...plan, dbBatchRows, pin: gzip ? null : pin, dryRun: input.dryRun === true };
}

function splitOptions(config: Config) {
  return {
    splitBytes: config.splitBytes,
    maxBatches: config.maxBatches,
    maxRecordBytes: config.maxRecordBytes,
  };
}

function partName(index: number): string {
  return `part-${String(index).padStart(PART_NAME_DIGITS, '0')}.csv`;
}
