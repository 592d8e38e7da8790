import { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';
import type { ImportExecutionInput, ImportSource, StagedRemovals } from '../model/types.ts';
import { isFolderUri, type ObjectLocation, parseFolderUri, parseObjectUri } from '../storage/object-uri.ts';

const CONTENT_TYPES = [
  'text/csv',
  'application/gzip',
  'application/x-gzip',
  'application/octet-stream',
] as const;

/** An as-of time: ISO 8601 with an offset (`Z` or `+05:30`), kept as given. */
export const AS_OF = z.iso.datetime({ offset: true }).optional();

/** The node import request of the design (Kafka value). Unknown fields are ignored, as producers add their own. */
export const NodeImportRequestSchema = z
  .object({
    domainId: z.uuid(),
    groupId: z.string().trim().min(1).max(255),
    filePath: z.string().min(1).max(2048).optional(),
    fileName: z.string().min(1).max(1024).optional(),
    contentType: z.enum(CONTENT_TYPES).optional(),
    // Each id is checked like a file's reference column: an empty or over-long id is a failed row of the
    // job, not a reason to refuse the whole list. The bound only keeps a value from being absurd.
    referenceIds: z.array(z.string().max(4096)).min(1).optional(),
    usernames: z.array(z.string().max(4096)).min(1).optional(),
    // Nodes that leave the group (the export sends members deleted or no longer ready): with either source
    // or alone. An id with no node is nothing to remove, not a failure.
    removeReferenceIds: z.array(z.string().max(4096)).min(1).optional(),
    removedUsernames: z.array(z.string().max(4096)).min(1).optional(),
    dryRun: z.boolean().optional(),
    maxFailedRows: z.number().int().nonnegative().optional(),
    // The time of the data (default: the file's last-modified time): older rows are not written, but counted stale.
    asOf: AS_OF,
  })
  .refine((r) => !(r.referenceIds && r.usernames), {
    message: 'give referenceIds or its alias usernames, not both',
  })
  .refine((r) => !(r.removeReferenceIds && r.removedUsernames), {
    message: 'give removeReferenceIds or its alias removedUsernames, not both',
  })
  .refine(
    (r) => {
      const file = r.filePath !== undefined;
      const references = (r.referenceIds ?? r.usernames) !== undefined;
      const removals = (r.removeReferenceIds ?? r.removedUsernames) !== undefined;
      return !(file && references) && (file || references || removals);
    },
    { message: 'exactly one source: filePath or referenceIds (or removeReferenceIds alone)' },
  );

export type NodeImportRequest = z.infer<typeof NodeImportRequestSchema>;

/** Decodes and validates a request; every problem becomes an InvalidRequestError with a specific code. */
export function parseNodeImportRequest(value: string): NodeImportRequest {
  return parseRequest(value, NodeImportRequestSchema);
}

const MATCH_CONTENT_TYPES = [
  'application/vnd.apache.parquet',
  'application/x-parquet',
  'application/parquet',
  'application/octet-stream',
] as const;

/**
 * The match import request of the design (Kafka value on a match topic): the node request's envelope with
 * `filePath` to a Parquet file, required. Unknown fields are ignored.
 */
export const MatchImportRequestSchema = z.object({
  domainId: z.uuid(),
  groupId: z.string().trim().min(1).max(255),
  filePath: z.string().min(1).max(2048),
  fileName: z.string().min(1).max(1024).optional(),
  contentType: z.enum(MATCH_CONTENT_TYPES).optional(),
  dryRun: z.boolean().optional(),
  maxFailedRows: z.number().int().nonnegative().optional(),
  // The matching engine's run time (default: the file's last-modified time).
  asOf: AS_OF,
});

export type MatchImportRequest = z.infer<typeof MatchImportRequestSchema>;

/** Decodes and validates a match request; every problem becomes an InvalidRequestError with a specific code. */
export function parseMatchImportRequest(value: string): MatchImportRequest {
  return parseRequest(value, MatchImportRequestSchema);
}

/** The execution input of a match request; the path must be an S3 location (or a local path in local mode). */
export function matchImportInput(
  request: MatchImportRequest,
  jobId: string,
  origin: string,
  options: FileSourceOptions,
): ImportExecutionInput {
  return executionInput(
    'matches',
    request,
    jobId,
    origin,
    fileSource(request.filePath, request, options, 'folders'),
  );
}

function parseRequest<T>(value: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new InvalidRequestError('NOT_JSON', 'value is not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
    throw new InvalidRequestError('SCHEMA_VIOLATION', problems.join('; '), { problems });
  }
  return parsed.data;
}

/** Which file paths a request may name. */
export interface FileSourceOptions {
  /** Local mode: a request's `filePath` may be a filesystem path. */
  readonly allowLocalFiles: boolean;
  /**
   * The pipeline's own bucket (staging, reports, uploads): a request may name only its own domain's uploads
   * (`incoming/<kind>/<domainId>/…`) and exports (`exports/users/<domainId>/…`) there, never another job's
   * staged parts, reports or another domain's files.
   */
  readonly pipelineBucket?: string | undefined;
}

/**
 * Refuses a file in the pipeline's own bucket outside the domain's uploads (`incoming/<kind>/<domainId>/…`)
 * and exports (`exports/users/<domainId>/…`): the rest of it (staged parts, reports, other domains' files)
 * belongs to other jobs and domains. Shared by Kafka requests and the bulk API's `source_uri`.
 * @throws InvalidRequestError FORBIDDEN_FILE_PATH
 */
export function checkPipelineBucketPath(
  location: ObjectLocation,
  filePath: string,
  domainId: string,
  pipelineBucket: string | undefined,
): void {
  if (location.kind !== 's3' || location.bucket !== pipelineBucket) return;
  const key = location.key;
  const ownUpload = /^incoming\/[^/]+\//.test(key) && key.split('/')[2] === domainId;
  const ownExport = key.startsWith(`exports/users/${domainId}/`);
  if (!ownUpload && !ownExport) {
    throw new InvalidRequestError(
      'FORBIDDEN_FILE_PATH',
      `${filePath} is in the pipeline's bucket outside incoming/<kind>/${domainId}/ and exports/users/${domainId}/`,
    );
  }
}

/**
 * The source of a file request: an S3 location (or, in local mode, a path), with the name and content type
 * the producer gave; with `folders`, also a folder or prefix (a match request's parts).
 */
function fileSource(
  filePath: string,
  request: {
    readonly domainId: string;
    readonly fileName?: string | undefined;
    readonly contentType?: string | undefined;
  },
  options: FileSourceOptions,
  folders: 'folders' | 'files' = 'files',
): ImportSource {
  // A folder or prefix (trailing `/`) of Parquet parts: only a match import takes one.
  const parse = folders === 'folders' && isFolderUri(filePath) ? parseFolderUri : parseObjectUri;
  checkPipelineBucketPath(
    parse(filePath, { allowLocal: options.allowLocalFiles }),
    filePath,
    request.domainId,
    options.pipelineBucket,
  );
  return {
    uri: filePath,
    ...(request.fileName ? { fileName: request.fileName } : {}),
    ...(request.contentType ? { contentType: request.contentType } : {}),
  };
}

/** The ids of a reference request (`referenceIds`, or its alias `usernames`), if it is one. */
export function requestedReferences(request: NodeImportRequest): readonly string[] | undefined {
  return request.referenceIds ?? request.usernames;
}

/** The ids of a request's removals (`removeReferenceIds`, or its alias `removedUsernames`), if it has any. */
export function requestedRemovals(request: NodeImportRequest): readonly string[] | undefined {
  return request.removeReferenceIds ?? request.removedUsernames;
}

/**
 * The execution input for a request that only removes: its staged removal list is both the job's source
 * (kind `removals`: nothing to load) and its removals.
 */
export function removalImportInput(
  request: NodeImportRequest,
  jobId: string,
  origin: string,
  removals: StagedRemovals,
): ImportExecutionInput {
  // A job of removals alone has no rows to fail (no maxFailedRows), but a dry run of it must remove nothing.
  const target = {
    domainId: request.domainId,
    groupId: request.groupId,
    dryRun: request.dryRun,
    asOf: request.asOf,
  };
  const source = { uri: removals.uri, kind: 'removals' } as const;
  return { ...executionInput('nodes', target, jobId, origin, source), removals };
}

/** The execution input for a reference request whose list was staged at `uri`. */
export function referenceImportInput(
  request: NodeImportRequest,
  jobId: string,
  origin: string,
  uri: string,
): ImportExecutionInput {
  return executionInput('nodes', request, jobId, origin, { uri, kind: 'references' });
}

/** The execution input for a file request; the path must be an S3 location (or a local path in local mode). */
export function fileImportInput(
  request: NodeImportRequest,
  jobId: string,
  origin: string,
  options: FileSourceOptions,
): ImportExecutionInput {
  if (request.filePath === undefined) {
    throw new InvalidRequestError(
      'UNSUPPORTED_REQUEST',
      'reference imports are not supported by this version',
    );
  }
  return executionInput('nodes', request, jobId, origin, fileSource(request.filePath, request, options));
}

/** The execution input of a request whose source is known: the job, its group, and the request's run options. */
function executionInput(
  kind: ImportExecutionInput['kind'],
  request: {
    readonly domainId: string;
    readonly groupId: string;
    readonly dryRun?: boolean | undefined;
    readonly maxFailedRows?: number | undefined;
    readonly asOf?: string | undefined;
  },
  jobId: string,
  origin: string,
  source: ImportSource,
): ImportExecutionInput {
  return {
    jobId,
    kind,
    domainId: request.domainId,
    groupId: request.groupId,
    source,
    origin,
    ...(request.dryRun ? { dryRun: true } : {}),
    ...(request.maxFailedRows !== undefined ? { maxFailedRows: request.maxFailedRows } : {}),
    ...(request.asOf !== undefined ? { asOf: request.asOf } : {}),
  };
}
