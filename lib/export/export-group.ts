import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { DeadlineExceededError, InvalidRequestError } from '../errors.ts';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logger, metrics } from '../observability/logger.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { EXPORT_CONTENT_TYPE, exportFileLocation } from './export-file.ts';
import {
  type CopySnapshot,
  type CursorSnapshot,
  completeExportRun,
  copyGroupUsersCsv,
  type ExportRunKey,
  planUserRanges,
  readGroupRemovals,
  readGroupUsers,
  startExportRun,
  type UserKeyRange,
} from './export-repository.ts';
import { fileFields, fileImportRequest, requestIdempotencyKey, UsernameChunker } from './import-requests.ts';
import type { RequestSender } from './request-sender.ts';
import type { ExportGroupInput, ExportGroupOutcome, ExportGroupResult } from './types.ts';
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

/** What a group's export did, before it is recorded. */
export interface Exported {
  readonly exported: number;
  readonly file: string | null;
  readonly messages: number;
  /** Members that left the export since the last run, sent as `removedUsernames`. */
  readonly removed: number;
}

/**
 * Exports one group: its `ready_for_matching` users (changed since `group.since`, or all). A cost-based
 * group's are streamed from PostgreSQL's COPY as a CSV.gz written straight into the object store (an S3
 * multipart upload) and one file import request; past `EXPORT_ROWS_PER_FUNCTION` users it is not exported
 * here but cut into key ranges, returned as `split` for the ranges' Map (export-ranges.ts). The others'
 * usernames are read through a cursor and go out as reference import requests of at most
 * `EXPORT_MESSAGE_MAX_BYTES`. Members that left since the last run (the `user_removals` tombstones) follow as
 * `removedUsernames` under the same limit — for a cost-based group in the file's request as far as they fit,
 * then in requests of their own. Nothing to export sends nothing. The run record ends COMPLETED and the
 * group's watermark moves to the instant the users were read; a failure propagates (the state machine
 * retries transient ones and records the group FAILED after that). When `signal` aborts (the Lambda deadline
 * is near) it stops before the next chunk or batch with DeadlineExceededError: the read's transaction ends,
 * the upload is abandoned and nothing is sent.
 */
export async function exportGroup(
  deps: ExportDeps,
  input: ExportGroupInput,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExportGroupOutcome> {
  const { group } = input;
  const log = logger.createChild({
    persistentKeys: { runId: input.runId, groupId: group.groupId, domainId: group.domainId },
  });
  const topic = exportTopic(deps, group);
  const key = exportRunKey(input);
  const { id, createdAt } = await startExportRun(deps.pool, key);
  // Every request of the group carries the run's time as its asOf: the same for a retried attempt (its
  // requests stay identical), and a replay of them later writes nothing over newer imports.
  const asOf = createdAt.toISOString();
  const started = Date.now();
  const snapshot: CursorSnapshot = {};
  let outcome: Exported;
  try {
    if (group.costBased) {
      const plan = await planUserRanges(deps.pool, group, {
        rowsPerRange: deps.config.exportRowsPerFunction,
        maxRanges: MAX_RANGES,
      });
      if (plan.ranges.length > 1) {
        log.info('cut group into ranges', { users: plan.users, ranges: plan.ranges.length });
        return {
          split: {
            runRecordId: id,
            startedAt: started,
            readAt: plan.readAt.toISOString(),
            asOf,
            users: plan.users,
            ranges: plan.ranges.map((range, index) => ({ index, ...range })),
          },
        };
      }
    }
    outcome = group.costBased
      ? await exportFile(deps, input, topic, snapshot, asOf, signal)
      : await exportUsernames(deps, input, topic, snapshot, asOf, signal);
  } catch (error) {
    metrics.addMetric(METRIC_NAMES.usersExportBatchFailures, MetricUnit.Count, 1);
    throw error;
  }
  // Set by the cursor or the COPY before it reads, which always happens.
  return completeGroup(deps, input, { id, started, readAt: snapshot.readAt ?? new Date(started) }, outcome);
}

/** Ranges a group is cut into at most: the ranges and their results travel in the state (256 KiB). */
const MAX_RANGES = 100;

/** The group's topic, checked. */
export function exportTopic(deps: Pick<ExportDeps, 'config'>, group: ExportGroupInput['group']): string {
  const topic = group.topic ?? deps.config.exportTopic;
  if (!KAFKA_TOPIC.test(topic)) {
    throw new InvalidRequestError(
      'INVALID_EXPORT_TOPIC',
      `the group's export topic is not a topic name: ${topic}`,
    );
  }
  return topic;
}

/** Records the group's export COMPLETED (moving its watermark to `run.readAt`) and returns its result. */
export async function completeGroup(
  deps: Pick<ExportDeps, 'pool'>,
  input: ExportGroupInput,
  run: { readonly id: string; readonly started: number; readonly readAt: Date },
  outcome: Exported,
): Promise<ExportGroupResult> {
  const { group } = input;
  const durationMs = Date.now() - run.started;
  await completeExportRun(deps.pool, exportRunKey(input), run.id, {
    exported: outcome.exported,
    fileUri: outcome.file,
    messages: outcome.messages,
    readAt: run.readAt,
    durationMs,
  });
  metrics.addMetric(METRIC_NAMES.usersExportDuration, MetricUnit.Milliseconds, durationMs);
  if (group.costBased)
    metrics.addMetric(METRIC_NAMES.usersExportCsvProcessed, MetricUnit.Count, outcome.exported);
  logger.info('exported group', {
    runId: input.runId,
    groupId: group.groupId,
    domainId: group.domainId,
    ...outcome,
    durationMs,
    full: input.full,
    since: group.since,
  });
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
    throwIfDeadline(signal);
    yield batch;
    metrics.addMetric(METRIC_NAMES.usersExportBatchDuration, MetricUnit.Milliseconds, Date.now() - started);
    started = Date.now();
  }
}

/** Every user of a group: one range. */
const WHOLE_GROUP: UserKeyRange = { after: null, through: null };

/**
 * The gzip level of the files: measured on the export's CSV, level 2 costs about half of level 6's CPU (the
 * default, and the reference's `gzip -6`) for a file 7 % larger (docs/decisions.md).
 */
export const EXPORT_GZIP_LEVEL = 2;

/** Stops the export with DeadlineExceededError once the invocation's deadline signal fired. */
export function throwIfDeadline(signal: AbortSignal): void {
  if (signal.aborted) {
    throw new DeadlineExceededError('the export stopped before the invocation deadline', {
      reason: String(signal.reason),
    });
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
  const { config } = deps;
  const { group } = input;
  throwIfDeadline(signal);
  const { uri, fileName } = exportFileLocation(config, group, input.date);
  const written = await writeUsersFile(deps, input, WHOLE_GROUP, { uri, header: true }, snapshot, signal);
  if (written === undefined) {
    const messages = await sendRemovals(deps, input, topic, 0, undefined, asOf, signal);
    return { exported: 0, file: null, messages: messages.sent, removed: messages.removed };
  }
  return sendFileRequests(deps, input, topic, { ...written, fileName }, asOf, signal);
}

/**
 * Sends what a written file asks for: its import request, carrying the first of the removals since the last
 * run (more follow in requests of their own), or alone when there are none.
 */
export async function sendFileRequests(
  deps: ExportDeps,
  input: ExportGroupInput,
  topic: string,
  file: { readonly uri: string; readonly fileName: string; readonly rows: number },
  asOf: string,
  signal: AbortSignal,
): Promise<Exported> {
  const first = fileFields(file.uri, file.fileName);
  const removals = await sendRemovals(deps, input, topic, 0, first, asOf, signal);
  if (removals.sent === 0) {
    const value = fileImportRequest(input.group, file.uri, file.fileName, asOf);
    await deps.sender.send(importRequest(input, topic, 0, value, 'file'));
  }
  return {
    exported: file.rows,
    file: file.uri,
    messages: Math.max(removals.sent, 1),
    removed: removals.removed,
  };
}

/**
 * Writes a key range of the group's users as a CSV.gz object at `uri`, streamed from PostgreSQL's COPY
 * through gzip into the object store (an S3 multipart upload): neither the rows nor the file are held. With
 * `header` false the header row is left out (a later range of a file made of several). Undefined, and
 * nothing written, when the range has no user. Stops with DeadlineExceededError when `signal` aborts; the
 * upload is then abandoned.
 */
export async function writeUsersFile(
  deps: Pick<ExportDeps, 'pool' | 'store'>,
  input: ExportGroupInput,
  range: UserKeyRange,
  target: { readonly uri: string; readonly header: boolean },
  snapshot: CopySnapshot,
  signal: AbortSignal,
): Promise<{ uri: string; rows: number } | undefined> {
  const { group } = input;
  const chunks = copyGroupUsersCsv(
    deps.pool,
    { domainId: group.domainId, groupId: group.groupId, since: group.since, columns: USER_EXPORT_COLUMNS },
    { ...range, header: target.header },
    snapshot,
  );
  try {
    const first = await chunks.next();
    if (first.done) return undefined;
    const started = Date.now();
    async function* checked(): AsyncGenerator<Buffer> {
      yield first.value;
      for await (const chunk of chunks) {
        throwIfDeadline(signal);
        yield chunk;
      }
    }
    const gzip = createGzip({ level: EXPORT_GZIP_LEVEL });
    const written = deps.store.write(target.uri, gzip, { contentType: EXPORT_CONTENT_TYPE });
    // A failed upload stops the stream feeding it, and with it the COPY.
    written.catch((error: unknown) => gzip.destroy(error as Error));
    try {
      await pipeline(Readable.from(checked()), gzip);
    } catch (error) {
      await written.catch(() => undefined);
      throw error;
    }
    const file = await written;
    metrics.addMetric(METRIC_NAMES.usersExportBatchDuration, MetricUnit.Milliseconds, Date.now() - started);
    return { uri: file.uri, rows: snapshot.rows ?? 0 };
  } finally {
    // Ends the COPY's transaction (and closes its connection) when the file failed part-way.
    await chunks.return(undefined);
  }
}

/**
 * Sends the group's removals since its last export as `removedUsernames` requests numbered from `index`,
 * the first carrying `firstFields` (a file request's source) when given. Returns the requests sent and the
 * names in them; none sent when nothing was removed.
 */
export async function sendRemovals(
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
