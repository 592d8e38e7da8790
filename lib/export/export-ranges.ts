import { gzipSync } from 'node:zlib';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logger, metrics } from '../observability/logger.ts';
import { EXPORT_CONTENT_TYPE, exportFileLocation } from './export-file.ts';
import {
  completeGroup,
  EXPORT_GZIP_LEVEL,
  type ExportDeps,
  type Exported,
  exportGroup,
  exportTopic,
  sendFileRequests,
  sendRemovals,
  throwIfDeadline,
  writeUsersFile,
} from './export-group.ts';
import { getExportRun, type RecordedExportRun } from './export-repository.ts';
import type {
  ExportGroupInput,
  ExportGroupOutcome,
  ExportGroupResult,
  ExportRangeInput,
  ExportRangeResult,
  FinishGroupInput,
} from './types.ts';
import { USER_EXPORT_COLUMNS } from './user-columns.ts';

/**
 * The export function's three steps, told apart by their input: a group (export it, or cut it into key
 * ranges when it is too large for one function), a range of a group (`range`: write its part of the file),
 * or a group's finish (`parts`: join the parts into the file, send the import request, record the run).
 */
export function exportStep(
  deps: ExportDeps,
  input: ExportGroupInput | ExportRangeInput | FinishGroupInput,
  signal?: AbortSignal,
): Promise<ExportGroupOutcome | ExportRangeResult> {
  if ('range' in input) return exportRange(deps, input, signal);
  if ('parts' in input) return finishGroup(deps, input, signal);
  return exportGroup(deps, input, signal);
}

/** Where range `index` of a group's file is written: beside the file, deleted once the file is whole. */
export function rangePartUri(fileUri: string, index: number): string {
  return `${rangePartsFolder(fileUri)}/${String(index).padStart(5, '0')}.csv.gz`;
}

function rangePartsFolder(fileUri: string): string {
  return `${fileUri}.parts`;
}

/**
 * Writes one key range of a group as a gzip member without the header row, at a key fixed by the run, the
 * group and the range: a retried attempt overwrites its own part, so no row is ever written twice. Reads its
 * own snapshot (after the split's, so nothing the split counted is missed).
 */
export async function exportRange(
  deps: ExportDeps,
  input: ExportRangeInput,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExportRangeResult> {
  const { uri } = exportFileLocation(deps.config, input.group, input.date);
  const part = rangePartUri(uri, input.range.index);
  throwIfDeadline(signal);
  const written = await writeUsersFile(deps, input, input.range, { uri: part, header: false }, {}, signal);
  return { index: input.range.index, rows: written?.rows ?? 0, part: written?.uri ?? null };
}

/**
 * Ends a group cut into ranges: the file is the header row (a gzip member of its own) followed by every
 * range's part in key order — concatenated gzip members are one gzip file, read as one by every gzip reader
 * and by the node import — streamed from the parts into the file's upload without recompressing or holding
 * anything. Then the one import request (with the removals) is sent, the run recorded COMPLETED with the
 * split's instant as the watermark, and the parts deleted.
 *
 * Idempotent, for the state machine's retries: once the run is recorded COMPLETED (an attempt died after
 * that, perhaps while deleting the parts), a retry returns the recorded result — the file, its rows and the
 * requests sent; `removed` is not recorded — and touches neither the file, the parts nor the topic. Before
 * that the parts are all still there: a retry joins the file again (the same bytes at the same key) and
 * sends the same requests with the same idempotency keys, so a request the dead attempt had already sent
 * starts no second import.
 */
export async function finishGroup(
  deps: ExportDeps,
  input: FinishGroupInput,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExportGroupOutcome> {
  const { group, split } = input;
  const recorded = await getExportRun(deps.pool, group.domainId, split.runRecordId);
  if (recorded?.status === 'COMPLETED') {
    logger.info('group already finished', {
      runId: input.runId,
      groupId: group.groupId,
      domainId: group.domainId,
    });
    return recordedResult(input, recorded);
  }
  const topic = exportTopic(deps, group);
  const parts = [...input.parts].sort((a, b) => a.index - b.index);
  const rows = parts.reduce((sum, p) => sum + p.rows, 0);
  const { uri, fileName } = exportFileLocation(deps.config, group, input.date);
  let outcome: Exported;
  try {
    throwIfDeadline(signal);
    if (rows === 0) {
      const removals = await sendRemovals(deps, input, topic, 0, undefined, split.asOf, signal);
      outcome = { exported: 0, file: null, messages: removals.sent, removed: removals.removed };
    } else {
      const file = await deps.store.write(uri, joinedParts(deps, parts), {
        contentType: EXPORT_CONTENT_TYPE,
      });
      const written = { uri: file.uri, fileName, rows };
      outcome = await sendFileRequests(deps, input, topic, written, split.asOf, signal);
    }
  } catch (error) {
    metrics.addMetric(METRIC_NAMES.usersExportBatchFailures, MetricUnit.Count, 1);
    throw error;
  }
  const result = await completeGroup(
    deps,
    input,
    { id: split.runRecordId, started: split.startedAt, readAt: new Date(split.readAt) },
    outcome,
  );
  // The file is whole and sent: the parts are of no further use, and a failure to delete them is no failure
  // of the export (retention removes the folder with the file).
  await deps.store.remove(rangePartsFolder(uri)).catch((error: unknown) => {
    logger.warn('could not delete the parts of an export file', { uri, error });
  });
  return result;
}

/** The result of a group whose run record says COMPLETED, as {@link completeGroup} returned it. */
function recordedResult(input: FinishGroupInput, run: RecordedExportRun): ExportGroupResult {
  const { group } = input;
  return {
    domainId: group.domainId,
    groupId: group.groupId,
    costBased: group.costBased,
    status: 'COMPLETED',
    exported: run.exported,
    file: run.fileUri,
    messages: run.messages,
  };
}

async function* joinedParts(
  deps: Pick<ExportDeps, 'store'>,
  parts: readonly ExportRangeResult[],
): AsyncGenerator<Buffer> {
  // The same header line COPY writes: the column names are plain identifiers, never quoted.
  yield gzipSync(`${USER_EXPORT_COLUMNS.map((c) => c.name).join(',')}\n`, { level: EXPORT_GZIP_LEVEL });
  for (const part of parts) {
    if (part.part === null) continue;
    for await (const chunk of await deps.store.read(part.part)) yield chunk as Buffer;
  }
}
