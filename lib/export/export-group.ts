import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { escapeCell } from '../csv/spreadsheet-escape.ts';
import { DeadlineExceededError, InvalidRequestError } from '../errors.ts';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logger, metrics } from '../observability/logger.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { EXPORT_CONTENT_TYPE, exportFileLocation } from './export-file.ts';
import {
  type CursorSnapshot,
  completeExportRun,
  type ExportRunKey,
  readGroupRemovals,
  readGroupUsers,
  startExportRun,
} from './export-repository.ts';
import { fileFields, fileImportRequest, requestIdempotencyKey, UsernameChunker } from './import-requests.ts';
import type { RequestSender } from './request-sender.ts';
import type { ExportGroupInput, ExportGroupResult } from './types.ts';
import { USER_EXPORT_COLUMNS, USERNAME_COLUMNS } from './user-columns.ts';

/** What a group's export works with. */
export interface ExportDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly store: ObjectStore;
  readonly sender: RequestSender;
}

const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** The run record key of an iteration. */
export function exportRunKey(input: ExportGroupInput): ExportRunKey {
  return {
    runId: input.runId,
    domainId: input.group.domainId,
    groupId: input.group.groupId,
    costBased: input.group.costBased,
    full: input.full,
    since: input.group.since,
    trigger: input.trigger,
  };
}

interface Exported {
  readonly exported: number;
  readonly file: string | null;
  readonly messages: number;
  /** Members that left the export since the last run, sent as `removedUsernames`. */
  readonly removed: number;
}

/**
 * Exports one group: its `ready_for_matching` users (changed since `group.since`, or all) are streamed
 * from a database cursor; a cost-based group's become a CSV.gz written straight into the object store
 * (an S3 multipart upload) and one file import request, the others' usernames go out as reference import
 * requests of at most `EXPORT_MESSAGE_MAX_BYTES`. Members that left since the last run (the `user_removals`
 * tombstones) follow as `removedUsernames` under the same limit — for a cost-based group in the file's
 * request as far as they fit, then in requests of their own. Nothing to export sends nothing. The run record ends
 * COMPLETED and the group's watermark moves to the instant the users were read; a failure propagates (the
 * state machine retries transient ones and records the group FAILED after that). When `signal` aborts (the
 * Lambda deadline is near) it stops before the next batch with DeadlineExceededError: the cursor's
 * transaction rolls back, the upload is aborted and nothing is sent.
 */
export async function exportGroup(
  deps: ExportDeps,
  input: ExportGroupInput,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExportGroupResult> {
  const { group } = input;
  const log = logger.createChild({
    persistentKeys: { runId: input.runId, groupId: group.groupId, domainId: group.domainId },
  });
  const topic = group.topic ?? deps.config.exportTopic;
  if (!KAFKA_TOPIC.test(topic)) {
    throw new InvalidRequestError(
      'INVALID_EXPORT_TOPIC',
      `the group's export topic is not a topic name: ${topic}`,
    );
  }
  const key = exportRunKey(input);
  const { id, createdAt } = await startExportRun(deps.pool, key);
  // Every request of the group carries the run's time as its asOf: the same for a retried attempt (its
  // requests stay identical), and a replay of them later writes nothing over newer imports.
  const asOf = createdAt.toISOString();
  const started = Date.now();
  const snapshot: CursorSnapshot = {};
  let outcome: Exported;
  try {
    outcome = group.costBased
      ? await exportFile(deps, input, topic, snapshot, asOf, signal)
      : await exportUsernames(deps, input, topic, snapshot, asOf, signal);
  } catch (error) {
    metrics.addMetric(METRIC_NAMES.usersExportBatchFailures, MetricUnit.Count, 1);
    throw error;
  }
  const durationMs = Date.now() - started;
  await completeExportRun(deps.pool, key, id, {
    exported: outcome.exported,
    fileUri: outcome.file,
    messages: outcome.messages,
    // Set by the cursor before its first batch, which always runs.
    readAt: snapshot.readAt ?? new Date(started),
    durationMs,
  });
  metrics.addMetric(METRIC_NAMES.usersExportDuration, MetricUnit.Milliseconds, durationMs);
  if (group.costBased)
    metrics.addMetric(METRIC_NAMES.usersExportCsvProcessed, MetricUnit.Count, outcome.exported);
  log.info('exported group', { ...outcome, durationMs, full: input.full, since: group.since });
  return {
    domainId: group.domainId,
    groupId: group.groupId,
    costBased: group.costBased,
    status: 'COMPLETED',
    ...outcome,
  };
}

/**
 * Times each batch from its fetch to the moment the next one is asked for (written out by then), and stops
 * before a batch once `signal` aborted.
 */
async function* timedBatches<T>(batches: AsyncGenerator<T[]>, signal: AbortSignal): AsyncGenerator<T[]> {
  let started = Date.now();
  for await (const batch of batches) {
    if (signal.aborted) {
      throw new DeadlineExceededError('the export stopped before the invocation deadline', {
        reason: String(signal.reason),
      });
    }
    yield batch;
    metrics.addMetric(METRIC_NAMES.usersExportBatchDuration, MetricUnit.Milliseconds, Date.now() - started);
    started = Date.now();
  }
}

async function exportFile(
  deps: ExportDeps,
  input: ExportGroupInput,
  topic: string,
  snapshot: CursorSnapshot,
  asOf: string,
  signal: AbortSignal,
): Promise<Exported> {
  const { config, pool, store, sender } = deps;
  const { group } = input;
  const batches = timedBatches(
    readGroupUsers(
      pool,
      {
        domainId: group.domainId,
        groupId: group.groupId,
        since: group.since,
        columns: USER_EXPORT_COLUMNS,
        batchRows: config.exportBatchRows,
      },
      snapshot,
    ),
    signal,
  );
  const first = await batches.next();
  if (first.done) {
    const messages = await sendRemovals(deps, input, topic, 0, undefined, asOf, signal);
    return { exported: 0, file: null, messages: messages.sent, removed: messages.removed };
  }
  let exported = 0;
  const columns = USER_EXPORT_COLUMNS.map((c) => c.name);
  // One CSV chunk per fetched batch: gzip gets large writes (a write per record would cost a thread-pool
  // round trip each) while memory stays bounded by one batch.
  async function* csvChunks(): AsyncGenerator<string> {
    try {
      let batch: Array<Array<string | null>> = first.value;
      let header = true;
      for (;;) {
        const records = batch.map((row) => row.map((cell) => (cell === null ? '' : escapeCell(cell))));
        yield stringify(records, header ? { header: true, columns } : {});
        header = false;
        exported += batch.length;
        const next = await batches.next();
        if (next.done) return;
        batch = next.value;
      }
    } finally {
      // Ends the cursor's transaction when the file fails part-way.
      await batches.return(undefined);
    }
  }
  const { uri, fileName } = exportFileLocation(config, group, input.date);
  const gzip = createGzip();
  const written = store.write(uri, gzip, { contentType: EXPORT_CONTENT_TYPE });
  // A failed upload stops the stream feeding it, and with it the cursor.
  written.catch((error: unknown) => gzip.destroy(error as Error));
  try {
    await pipeline(Readable.from(csvChunks(), { highWaterMark: 1 }), gzip);
  } catch (error) {
    await batches.return(undefined);
    await written.catch(() => undefined);
    throw error;
  }
  const file = await written;
  const removals = await sendRemovals(deps, input, topic, 0, fileFields(file.uri, fileName), asOf, signal);
  if (removals.sent === 0) {
    const value = fileImportRequest(group, file.uri, fileName, asOf);
    await sender.send(importRequest(input, topic, 0, value, 'file'));
  }
  return { exported, file: file.uri, messages: Math.max(removals.sent, 1), removed: removals.removed };
}

/**
 * Sends the group's removals since its last export as `removedUsernames` requests numbered from `index`,
 * the first carrying `firstFields` (a file request's source) when given. Returns the requests sent and the
 * names in them; none sent when nothing was removed.
 */
async function sendRemovals(
  deps: ExportDeps,
  input: ExportGroupInput,
  topic: string,
  index: number,
  firstFields: Record<string, string> | undefined,
  asOf: string,
  signal: AbortSignal,
): Promise<{ sent: number; removed: number }> {
  const { group } = input;
  const chunker = new UsernameChunker(group, deps.config.exportMessageMaxBytes, {
    field: 'removedUsernames',
    ...(firstFields ? { firstFields } : {}),
    fields: { asOf },
  });
  let sent = 0;
  let removed = 0;
  const send = async (value: string): Promise<void> => {
    const kind = firstFields && sent === 0 ? 'file' : 'removals';
    await deps.sender.send(importRequest(input, topic, index + sent, value, kind));
    sent += 1;
  };
  const batches = readGroupRemovals(deps.pool, group, deps.config.exportBatchRows);
  for await (const batch of timedBatches(batches, signal)) {
    for (const username of batch) {
      const full = chunker.add(username);
      if (full !== undefined) await send(full);
      removed += 1;
    }
  }
  const rest = chunker.flush();
  if (rest !== undefined) await send(rest);
  return { sent, removed };
}

async function exportUsernames(
  deps: ExportDeps,
  input: ExportGroupInput,
  topic: string,
  snapshot: CursorSnapshot,
  asOf: string,
  signal: AbortSignal,
): Promise<Exported> {
  const { config, pool, sender } = deps;
  const { group } = input;
  const chunker = new UsernameChunker(group, config.exportMessageMaxBytes, { fields: { asOf } });
  let exported = 0;
  let messages = 0;
  const send = async (value: string): Promise<void> => {
    await sender.send(importRequest(input, topic, messages, value, 'usernames'));
    messages += 1;
  };
  const batches = readGroupUsers(
    pool,
    {
      domainId: group.domainId,
      groupId: group.groupId,
      since: group.since,
      columns: USERNAME_COLUMNS,
      batchRows: config.exportBatchRows,
    },
    snapshot,
  );
  for await (const batch of timedBatches(batches, signal)) {
    for (const [username] of batch) {
      const full = chunker.add(username ?? '');
      if (full !== undefined) await send(full);
      exported += 1;
    }
  }
  const rest = chunker.flush();
  if (rest !== undefined) await send(rest);
  const removals = await sendRemovals(deps, input, topic, messages, undefined, asOf, signal);
  return { exported, file: null, messages: messages + removals.sent, removed: removals.removed };
}

function importRequest(
  input: ExportGroupInput,
  topic: string,
  index: number,
  value: string,
  kind: 'file' | 'usernames' | 'removals',
) {
  return {
    topic,
    key: `${input.group.domainId}/${input.group.groupId}`,
    value,
    headers: {
      'idempotency-key': requestIdempotencyKey(input.runId, input.group, index, value),
      source: 'matchbridge-user-export',
      runId: input.runId,
      exportKind: kind,
    },
  };
}
