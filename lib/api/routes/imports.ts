import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiRequestError, jobFailureOf } from '../../errors.ts';
import { failJob } from '../../jobs/job-repository.ts';
import { downloadUrl } from '../../storage/presign.ts';
import {
  checkDeclaredLength,
  mediaType,
  readJson,
  readMultipart,
  type StagedBody,
  stageBody,
} from '../body.ts';
import type { ApiRequest, ApiResponse, Route } from '../http.ts';
import { idempotencyKey, requestHash } from '../idempotency.ts';
import {
  claimUpload,
  listImportRowErrors,
  readImportJobView,
  readUploadTarget,
  releaseUpload,
} from '../import-job-queries.ts';
import {
  type ApiImportJob,
  createImportJob,
  IMPORT_FORMATS,
  IMPORTABLE,
  RESOURCE_TYPES,
  uploadUri,
} from '../import-jobs.ts';
import { checkImportSource } from '../import-source.ts';
import { NDJSON_LINE_OFFSET } from '../ndjson-nodes.ts';
import {
  type ApiContext,
  authorize,
  failureOf,
  fromQuery,
  jobIdParam,
  LINK_SECONDS,
  parse,
  route,
} from './shared.ts';

const DEFAULT_ERROR_PAGE = 100;
const MAX_ERROR_PAGE = 1000;

const MEDIA_FORMATS: Readonly<Record<string, (typeof IMPORT_FORMATS)[number]>> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/vnd.apache.parquet': 'parquet',
};

const ImportParams = z.object({
  resource_type: z.enum(RESOURCE_TYPES),
  format: z.enum(IMPORT_FORMATS),
  domain_id: z.uuid(),
  group_id: z.string().trim().min(1).max(255),
  source_uri: z.string().min(1).max(2048).optional(),
  dry_run: z
    .union([z.boolean(), z.enum(['true', 'false'])])
    .transform((value) => value === true || value === 'true')
    .optional(),
});
type ImportParams = z.infer<typeof ImportParams>;

/**
 * Whether the request asks for a dry run (`?dry_run=true` or a `dry_run` field): only the imports that run
 * through the pipeline (nodes, Parquet matches) have one; the API loads the others itself.
 */
function dryRunOf(request: ApiRequest, params: ImportParams): boolean {
  const query = request.query.get('dry_run');
  if (query !== null && query !== 'true' && query !== 'false') {
    throw new ApiRequestError(400, 'INVALID_REQUEST', 'dry_run: expected true or false');
  }
  const dryRun = params.dry_run === true || query === 'true';
  if (
    dryRun &&
    (params.resource_type === 'users' || (params.resource_type === 'matches' && params.format !== 'parquet'))
  ) {
    throw new ApiRequestError(
      400,
      'DRY_RUN_UNSUPPORTED',
      'a dry run is offered for nodes and Parquet matches',
    );
  }
  return dryRun;
}

function checkImportable(params: ImportParams): void {
  if (!IMPORTABLE[params.resource_type].includes(params.format)) {
    throw new ApiRequestError(
      400,
      'UNSUPPORTED_FORMAT',
      `${params.resource_type} are imported from ${IMPORTABLE[params.resource_type].join(' or ')}`,
    );
  }
}

async function createImport(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const key = idempotencyKey(request.headers);
  const { config, store } = context.deps;
  const limit = config.apiMaxBodyBytes;
  checkDeclaredLength(request.headers, limit);
  const jobId = randomUUID();
  const type = mediaType(request.headers);
  let params: ImportParams;
  let staged: StagedBody | undefined;
  let source: string | undefined;
  if (type === 'multipart/form-data') {
    const form = await readMultipart(
      request.body,
      request.headers,
      store,
      uploadUri(context.deps, jobId),
      limit,
    );
    params = parse(ImportParams.omit({ source_uri: true }), form.fields);
    authorize(request.caller, params.domain_id);
    if (!form.file)
      throw new ApiRequestError(400, 'INVALID_REQUEST', 'file: the multipart body has no file part');
    staged = form.file;
  } else if (type === 'application/json') {
    params = parse(ImportParams, await readJson(request.body));
    authorize(request.caller, params.domain_id);
    if (params.source_uri !== undefined) {
      source = await checkImportSource(context.deps, params.source_uri, params.domain_id);
    }
  } else if (MEDIA_FORMATS[type] !== undefined) {
    params = parse(ImportParams.omit({ source_uri: true }), {
      format: MEDIA_FORMATS[type],
      ...fromQuery(request.query),
    });
    authorize(request.caller, params.domain_id);
    checkImportable(params);
    staged = await stageBody(store, uploadUri(context.deps, jobId), request.body, limit, type);
  } else {
    throw new ApiRequestError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'send multipart/form-data, application/json, text/csv, application/x-ndjson or application/vnd.apache.parquet',
    );
  }
  checkImportable(params);
  const dryRun = dryRunOf(request, params);
  const hash = requestHash({
    resource_type: params.resource_type,
    format: params.format,
    domain_id: params.domain_id,
    group_id: params.group_id,
    source_uri: params.source_uri,
    body_sha256: staged?.sha256,
    ...(dryRun ? { dry_run: true } : {}),
  });
  const { response, replayed } = await context.idempotency.once(
    { domainId: params.domain_id, key },
    hash,
    async () => {
      const uri = staged?.uri ?? source;
      const job = {
        jobId,
        resourceType: params.resource_type,
        format: params.format,
        domainId: params.domain_id,
        groupId: params.group_id,
        ...(dryRun ? { dryRun } : {}),
      };
      const { createdAt } = await createImportJob(context.deps, { ...job, uri });
      if (uri !== undefined) await launchOrFail(context, { ...job, uri });
      return {
        status: 202,
        body: {
          job_id: jobId,
          status: 'pending',
          created_at: createdAt.toISOString(),
          ...(uri === undefined ? { upload_url: `${request.baseUrl}/v1/imports/${jobId}/file` } : {}),
        },
      };
    },
  );
  return { status: replayed ? 200 : response.status, json: response.body };
}

/** Starts a recorded job; a job that cannot be started is FAILED with the reason, never left PENDING. */
async function launchOrFail(context: ApiContext, job: ApiImportJob): Promise<void> {
  try {
    await context.launcher.launchImport(job);
  } catch (error) {
    await failJob(
      context.deps.pool,
      job.jobId,
      `the job could not be started: ${(error as Error).message}`,
      jobFailureOf(error),
    );
    throw error;
  }
}

async function uploadImportFile(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const { config, store } = context.deps;
  const target = await readUploadTarget(context.deps.pool, jobId);
  if (!target) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, target.domainId);
  checkDeclaredLength(request.headers, config.apiMaxBodyBytes);
  const uri = uploadUri(context.deps, jobId);
  // Claim the upload first, so that two uploads to one job cannot both start it.
  if (!(await claimUpload(context.deps.pool, jobId, uri))) {
    throw new ApiRequestError(409, 'UPLOAD_NOT_EXPECTED', 'this job already has its file');
  }
  try {
    await stageBody(store, uri, request.body, config.apiMaxBodyBytes);
  } catch (error) {
    await releaseUpload(context.deps.pool, jobId);
    throw error;
  }
  await launchOrFail(context, {
    jobId,
    resourceType: target.kind as ApiImportJob['resourceType'],
    format: target.format as ApiImportJob['format'],
    domainId: target.domainId,
    groupId: target.groupId,
    uri,
    ...(target.dryRun ? { dryRun: true } : {}),
  });
  return {
    status: 202,
    json: { job_id: jobId, status: 'pending', created_at: target.createdAt.toISOString() },
  };
}

/** An error-page cursor: the last line shown, opaque to callers. */
const encodeCursor = (line: number): string => Buffer.from(`l:${line}`).toString('base64url');
function decodeCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  const match = /^l:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new ApiRequestError(400, 'INVALID_CURSOR', 'cursor is not one this API gave');
  return Number(match[1]);
}

function pageSize(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null) return DEFAULT_ERROR_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_ERROR_PAGE) {
    throw new ApiRequestError(400, 'INVALID_REQUEST', `limit: an integer from 1 to ${MAX_ERROR_PAGE}`);
  }
  return n;
}

async function getImport(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const { pool, config } = context.deps;
  const job = await readImportJobView(pool, jobId);
  if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, job.domainId);
  const limit = pageSize(request.query);
  const after = decodeCursor(request.query.get('cursor'));
  const offset = job.kind === 'nodes' && job.format === 'ndjson' ? NDJSON_LINE_OFFSET : 0;
  // One row past the page says whether there is a next one.
  const errors = await listImportRowErrors(pool, jobId, after, limit + 1);
  const page = errors.slice(0, limit);
  const last = page.at(-1);
  return {
    status: 200,
    json: {
      job_id: job.id,
      resource_type: job.kind,
      status: job.status.toLowerCase(),
      total_records: job.total,
      processed_count: job.processed + job.failedCount,
      success_count: job.processed,
      fail_count: job.failedCount,
      errors: page.map((e) => ({ line: e.line - offset, errors: e.errors })),
      ...(errors.length > limit && last ? { next_cursor: encodeCursor(last.line) } : {}),
      ...(job.failedListUri && job.failedCount > 0
        ? { error_report_url: await downloadUrl(config, job.failedListUri, LINK_SECONDS) }
        : {}),
      ...failureOf(job),
      created_at: job.createdAt.toISOString(),
      completed_at: job.finishedAt?.toISOString() ?? null,
    },
  };
}

/** Creating an import, uploading its file, reading its status and failed rows. */
export const IMPORT_ROUTES: readonly Route<ApiContext>[] = [
  route('POST', '/v1/imports', (request, _params, context) => createImport(request, context)),
  route('GET', '/v1/imports/{job_id}', getImport),
  route('PUT', '/v1/imports/{job_id}/file', uploadImportFile),
];
