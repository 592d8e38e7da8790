import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { erasureInput, parseErasureRequest } from '../erasure/erasure-request.ts';
import { InvalidRequestError, isTransient, MatchbridgeError } from '../errors.ts';
import type { DeadLetter, DeadLetterSink, ExecutionStarter, MskEvent, MskRecord } from '../model/ingest.ts';
import { deterministicJobId } from '../model/job-id.ts';
import type { ImportExecutionInput } from '../model/types.ts';
import { logger } from '../observability/logger.ts';
import { IMPORT_REQUEST_MAX_BYTES } from '../settings.ts';
import {
  fileImportInput,
  matchImportInput,
  type NodeImportRequest,
  parseMatchImportRequest,
  parseNodeImportRequest,
  referenceImportInput,
  removalImportInput,
  requestedReferences,
  requestedRemovals,
} from './import-request.ts';

/** What ingest works with: where jobs start, where bad requests go, and whether local paths are accepted. */
export interface IngestDeps {
  readonly starter: ExecutionStarter;
  readonly deadLetters: DeadLetterSink;
  /** Local mode: a request's `filePath` may be a filesystem path. */
  readonly allowLocalFiles: boolean;
  /** The pipeline's bucket, where a request may name only its own domain's uploads and exports. */
  readonly pipelineBucket?: string | undefined;
  /**
   * Stages the ids of a reference request under the job's staging prefix and returns where; a list never
   * travels in a state payload. Without it, reference requests are dead-lettered as unsupported.
   */
  readonly stageReferences?: (
    jobId: string,
    ids: readonly string[],
    list?: 'references' | 'removals',
  ) => Promise<string>;
  /** Topics whose records are match import requests (Parquet files); every other topic carries node requests. */
  readonly matchTopics?: ReadonlySet<string>;
  /** Topics whose records are erasure requests; they need `stageReferences` as reference requests do. */
  readonly erasureTopics?: ReadonlySet<string>;
}

/**
 * Where a partial batch response tells the MSK event-source mapping to resume: the event's `topic-partition`
 * key and the offset of the first record not taken (Lambda's Kafka `ReportBatchItemFailures` contract).
 */
export interface KafkaBatchItemFailure {
  readonly itemIdentifier: { readonly partition: string; readonly offset: number };
}

/** What one ingest call did: jobs started, records dead-lettered, and duplicates of jobs already started. */
export interface IngestOutcome {
  readonly started: Array<{ jobId: string; topic: string; partition: number; offset: number }>;
  readonly deadLettered: Array<{ topic: string; partition: number; offset: number; reason: string }>;
  readonly duplicates: number;
}

/**
 * What one call with Kafka records did, as the partial batch response the mapping reads: besides the
 * outcome, the records that failed for a reason that may pass, to be redelivered with the rest of their
 * partition.
 */
export interface KafkaIngestOutcome extends IngestOutcome {
  readonly batchItemFailures: KafkaBatchItemFailure[];
}

/** What became of one record. */
export type RecordOutcome =
  | { readonly outcome: 'started' | 'duplicate'; readonly jobId: string }
  | { readonly outcome: 'dead-lettered'; readonly reason: string };

const MskRecordSchema = z.object({
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  timestamp: z.number().optional(),
  timestampType: z.string().optional(),
  key: z.string().nullish(),
  value: z.string().nullish(),
  headers: z.array(z.record(z.string(), z.array(z.number().int().min(0).max(255)))).optional(),
});

const MskEventSchema = z.object({
  eventSource: z.string().optional(),
  records: z.record(z.string(), z.array(MskRecordSchema)),
});

/**
 * Checks that a parsed JSON document has the shape of an MSK (or self-managed Kafka) event, as a captured
 * Lambda event would.
 *
 * @throws InvalidRequestError `NOT_MSK_EVENT` naming what does not fit.
 */
export function parseMskEvent(json: unknown): MskEvent {
  const parsed = MskEventSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`);
    throw new InvalidRequestError('NOT_MSK_EVENT', `not an MSK event: ${problems.slice(0, 3).join('; ')}`, {
      problems,
    });
  }
  return parsed.data;
}

function decodeText(base64: string | null | undefined): { text: string | null; bytes: Buffer | null } {
  if (base64 === null || base64 === undefined) return { text: null, bytes: null };
  const bytes = Buffer.from(base64, 'base64');
  return { text: isUtf8(bytes) ? bytes.toString('utf8') : null, bytes };
}

function decodeHeaders(headers: MskRecord['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers ?? []) {
    for (const [name, bytes] of Object.entries(header)) out[name] = Buffer.from(bytes).toString('utf8');
  }
  return out;
}

/**
 * Turns each record into a started job or a dead letter. Invalid records never fail the batch (that would
 * block the partition). A record that fails otherwise (a service unavailable, an unexpected error) is
 * reported in `batchItemFailures` and the rest of its partition is left for the redelivery, which resumes
 * at that record; other partitions go on. The mapping retries those records a bounded number of times.
 */
export async function ingestRecords(event: MskEvent, deps: IngestDeps): Promise<KafkaIngestOutcome> {
  const outcome: KafkaIngestOutcome = { started: [], deadLettered: [], duplicates: 0, batchItemFailures: [] };
  let duplicates = 0;
  for (const [partitionKey, records] of Object.entries(event.records)) {
    for (const record of records) {
      const where = { topic: record.topic, partition: record.partition, offset: record.offset };
      let result: RecordOutcome;
      try {
        result = await ingestRecord(record, deps);
      } catch (error) {
        outcome.batchItemFailures.push({
          itemIdentifier: { partition: partitionKey, offset: record.offset },
        });
        logger.error('import request not taken; redelivered from this offset', { ...where, error });
        break;
      }
      if (result.outcome === 'dead-lettered') outcome.deadLettered.push({ ...where, reason: result.reason });
      else if (result.outcome === 'duplicate') duplicates += 1;
      else outcome.started.push({ jobId: result.jobId, ...where });
    }
  }
  return { ...outcome, duplicates };
}

/**
 * The execution input of a node request: a file, a staged reference list, or removals alone; removals
 * given with a source are staged beside it and run in the same job.
 */
async function nodeImportInput(
  request: NodeImportRequest,
  jobId: string,
  origin: string,
  deps: IngestDeps,
): Promise<ImportExecutionInput> {
  const references = requestedReferences(request);
  const removals = requestedRemovals(request);
  const stage = deps.stageReferences;
  if ((references || removals) && !stage) {
    throw new InvalidRequestError('UNSUPPORTED_REQUEST', 'reference imports are not enabled here');
  }
  const staged =
    removals && stage ? { uri: await stage(jobId, removals, 'removals'), count: removals.length } : undefined;
  if (references && stage) {
    const input = referenceImportInput(request, jobId, origin, await stage(jobId, references));
    return staged ? { ...input, removals: staged } : input;
  }
  if (request.filePath === undefined && staged) return removalImportInput(request, jobId, origin, staged);
  const input = fileImportInput(request, jobId, origin, {
    allowLocalFiles: deps.allowLocalFiles,
    pipelineBucket: deps.pipelineBucket,
  });
  return staged ? { ...input, removals: staged } : input;
}

/**
 * Starts the job one record asks for, or dead-letters the record when it is not a valid request.
 *
 * @throws whatever is not the request's fault (a transient MatchbridgeError, an AWS SDK error…).
 */
export async function ingestRecord(record: MskRecord, deps: IngestDeps): Promise<RecordOutcome> {
  const paths = { allowLocalFiles: deps.allowLocalFiles, pipelineBucket: deps.pipelineBucket };
  const where = { topic: record.topic, partition: record.partition, offset: record.offset };
  const headers = decodeHeaders(record.headers);
  const value = decodeText(record.value);
  let input: ImportExecutionInput;
  try {
    if (value.bytes === null || value.bytes.length === 0) {
      throw new InvalidRequestError('EMPTY_VALUE', 'record has no value');
    }
    if (value.bytes.length > IMPORT_REQUEST_MAX_BYTES) {
      throw new InvalidRequestError(
        'OVERSIZED',
        `value of ${value.bytes.length} bytes exceeds ${IMPORT_REQUEST_MAX_BYTES}`,
      );
    }
    if (value.text === null) throw new InvalidRequestError('NOT_UTF8', 'value is not UTF-8 text');
    const idempotencyKey = headers['idempotency-key'];
    const jobId = deterministicJobId(
      idempotencyKey ? `key:${idempotencyKey}` : `kafka:${record.topic}/${record.partition}/${record.offset}`,
    );
    const origin = `kafka:${record.topic}/${record.partition}/${record.offset}`;
    if (deps.matchTopics?.has(record.topic)) {
      input = matchImportInput(parseMatchImportRequest(value.text), jobId, origin, paths);
    } else if (deps.erasureTopics?.has(record.topic)) {
      const request = parseErasureRequest(value.text);
      if (!deps.stageReferences) {
        throw new InvalidRequestError('UNSUPPORTED_REQUEST', 'erasures are not enabled here');
      }
      const uri = await deps.stageReferences(jobId, request.eraseReferenceIds);
      input = erasureInput(request, jobId, origin, uri);
    } else {
      input = await nodeImportInput(parseNodeImportRequest(value.text), jobId, origin, deps);
    }
  } catch (error) {
    if (!(error instanceof MatchbridgeError) || isTransient(error)) throw error;
    const letter: DeadLetter = {
      reason: error.message,
      code: error.code,
      ...where,
      key: decodeText(record.key).text,
      headers,
      value: value.text ?? record.value ?? null,
      valueEncoding: value.text === null && record.value ? 'base64' : 'utf8',
    };
    await deps.deadLetters.send(letter);
    logger.warn('dead-lettered import request', { ...where, code: error.code, reason: error.message });
    return { outcome: 'dead-lettered', reason: error.message };
  }
  const result = await deps.starter.start(input);
  if (result === 'duplicate') {
    logger.info('duplicate import request', { ...where, jobId: input.jobId });
    return { outcome: 'duplicate', jobId: input.jobId };
  }
  logger.info('started import', {
    ...where,
    jobId: input.jobId,
    domainId: input.domainId,
    groupId: input.groupId,
  });
  return { outcome: 'started', jobId: input.jobId };
}
