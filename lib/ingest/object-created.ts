import { z } from 'zod';
import { InvalidRequestError, isTransient, MatchbridgeError } from '../errors.ts';
import { deterministicJobId } from '../model/job-id.ts';
import type { ImportExecutionInput } from '../model/types.ts';
import { logger } from '../observability/logger.ts';
import { parseObjectUri } from '../storage/object-uri.ts';
import type { IngestDeps, IngestOutcome } from './ingest-records.ts';

/** Uploads under this prefix are node imports: `incoming/nodes/<domainId>/<groupId>/<file>`. */
export const NODE_UPLOAD_PREFIX = 'incoming/nodes/';

/**
 * The S3 "Object Created" event as EventBridge delivers it (only the fields read here). Unlike S3 event
 * notifications (SQS, SNS, Lambda), whose keys are form-URL-encoded, EventBridge carries `detail.object.key`
 * as the raw key: it is used as is, never decoded (decoding would corrupt keys containing `%` or `+`).
 */
const ObjectCreatedEventSchema = z.object({
  id: z.string().optional(),
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().nonnegative().optional(),
      etag: z.string().optional(),
      'version-id': z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

export type ObjectCreatedEvent = z.infer<typeof ObjectCreatedEventSchema>;

/** Where an uploaded node file goes: its domain, its group and the file's own name. */
export interface NodeUploadTarget {
  readonly domainId: string;
  readonly groupId: string;
  readonly fileName: string;
}

/**
 * Reads the domain and group of an upload from its key, `incoming/nodes/<domainId>/<groupId>/<file>`.
 *
 * @throws InvalidRequestError `PATH_TRAVERSAL` (a `.` or `..` segment), `WRONG_PREFIX`, `MISSING_SEGMENTS`,
 * `NESTED_FOLDERS`, `MISSING_FILE_NAME`, `INVALID_DOMAIN` (not a UUID) or `INVALID_GROUP` (empty, blank or
 * over 255 characters).
 */
export function parseNodeUploadKey(key: string): NodeUploadTarget {
  const layout = `expected ${NODE_UPLOAD_PREFIX}<domainId>/<groupId>/<file>`;
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new InvalidRequestError('PATH_TRAVERSAL', `relative segment in object key ${key}`);
  }
  if (!key.startsWith(NODE_UPLOAD_PREFIX)) {
    throw new InvalidRequestError('WRONG_PREFIX', `object key ${key} is not under ${NODE_UPLOAD_PREFIX}`);
  }
  const segments = key.slice(NODE_UPLOAD_PREFIX.length).split('/');
  if (segments.length < 3) throw new InvalidRequestError('MISSING_SEGMENTS', `${layout}, got ${key}`);
  if (segments.length > 3) throw new InvalidRequestError('NESTED_FOLDERS', `${layout}, got ${key}`);
  const [domainId = '', group = '', fileName = ''] = segments;
  if (fileName === '') throw new InvalidRequestError('MISSING_FILE_NAME', `${layout}, got ${key}`);
  if (!z.uuid().safeParse(domainId).success) {
    throw new InvalidRequestError('INVALID_DOMAIN', `domain folder '${domainId}' is not a UUID`);
  }
  const groupId = group.trim();
  if (groupId.length === 0 || groupId.length > 255) {
    throw new InvalidRequestError('INVALID_GROUP', `group folder '${group}' must be 1 to 255 characters`);
  }
  return { domainId, groupId, fileName };
}

/** The execution input of an upload; the job id is the object's identity, the same for every redelivery. */
export function objectCreatedInput(event: ObjectCreatedEvent): ImportExecutionInput {
  const bucket = event.detail.bucket.name;
  const { key, sequencer, etag } = event.detail.object;
  const target = parseNodeUploadKey(key);
  const uri = `s3://${bucket}/${key}`;
  parseObjectUri(uri, { allowLocal: false });
  // The sequencer orders the writes of one key: a new upload under the same key is a new job, a
  // redelivered event is not. Without one, the ETag (content) or the event id stand in.
  const version = sequencer ?? etag ?? event.id ?? '';
  return {
    jobId: deterministicJobId(`s3:${bucket}/${key}@${version}`),
    kind: 'nodes',
    domainId: target.domainId,
    groupId: target.groupId,
    source: { uri, fileName: target.fileName },
    origin: `s3:${bucket}/${key}`,
  };
}

function parseEvent(event: unknown): ObjectCreatedEvent {
  const parsed = ObjectCreatedEventSchema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`);
  throw new InvalidRequestError(
    'NOT_OBJECT_CREATED',
    `not an S3 Object Created event: ${problems.slice(0, 3).join('; ')}`,
    { problems },
  );
}

/** The bucket and key of an event, read leniently so that even a malformed event's letter names them. */
function identify(event: unknown): { bucket: string; key: string | null } {
  const detail = (event as { detail?: { bucket?: { name?: unknown }; object?: { key?: unknown } } } | null)
    ?.detail;
  const bucket = detail?.bucket?.name;
  const key = detail?.object?.key;
  return {
    bucket: typeof bucket === 'string' && bucket !== '' ? bucket : 'unknown',
    key: typeof key === 'string' ? key : null,
  };
}

/**
 * Starts the import of an uploaded node file. A key that does not name a domain and group, or an event that
 * is not an Object Created event, is dead-lettered as `{reason, code, topic: "s3:<bucket>", partition: 0,
 * offset: 0, key: <object key>, headers: {}, value: <the event as JSON>}` and the call succeeds; an
 * infrastructure error propagates so that the invocation is retried.
 */
export async function ingestObjectCreated(
  event: unknown,
  deps: Pick<IngestDeps, 'starter' | 'deadLetters'>,
): Promise<IngestOutcome> {
  const { bucket, key } = identify(event);
  const where = { topic: `s3:${bucket}`, partition: 0, offset: 0 };
  let input: ImportExecutionInput;
  try {
    input = objectCreatedInput(parseEvent(event));
  } catch (error) {
    if (!(error instanceof MatchbridgeError) || isTransient(error)) throw error;
    await deps.deadLetters.send({
      reason: error.message,
      code: error.code,
      ...where,
      key,
      headers: {},
      value: JSON.stringify(event) ?? null,
      valueEncoding: 'utf8',
    });
    logger.warn('dead-lettered upload', { ...where, key, code: error.code, reason: error.message });
    return { started: [], deadLettered: [{ ...where, reason: error.message }], duplicates: 0 };
  }
  const result = await deps.starter.start(input);
  if (result === 'duplicate') {
    logger.info('duplicate upload event', { ...where, key, jobId: input.jobId });
    return { started: [], deadLettered: [], duplicates: 1 };
  }
  logger.info('started import of upload', {
    ...where,
    key,
    jobId: input.jobId,
    domainId: input.domainId,
    groupId: input.groupId,
  });
  return { started: [{ jobId: input.jobId, ...where }], deadLettered: [], duplicates: 0 };
}
