import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { query } from '../db/query.ts';
import { ApiRequestError, jobFailureOf } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { failJob, getJob } from '../jobs/job-repository.ts';
import { downloadUrl } from '../storage/presign.ts';
import {
  checkDeclaredLength,
  mediaType,
  readJson,
  readMultipart,
  type StagedBody,
  stageBody,
} from './body.ts';
import { type ApiExportJob, createExportJob, failExport } from './export-jobs.ts';
import {
  checkExportQuery,
  countExportRows,
  EXPORT_FORMATS,
  type ExportFormat,
  exportChunks,
  exportCsvByCopy,
} from './export-rows.ts';
import type { ApiRequest, ApiResponse, Caller, Route } from './http.ts';
import { type IdempotencyStore, idempotencyKey, requestHash } from './idempotency.ts';
import {
  type ApiImportJob,
  AWAITING_UPLOAD,
  createImportJob,
  IMPORT_FORMATS,
  IMPORTABLE,
  RESOURCE_TYPES,
  uploadUri,
} from './import-jobs.ts';
import { checkImportSource } from './import-source.ts';
import { NDJSON_LINE_OFFSET } from './ndjson-nodes.ts';
import openapi from './openapi.json' with { type: 'json' };

/** Starts accepted jobs in the background (in-process locally, asynchronously on AWS). */
export interface JobLauncher {
  launchImport(job: ApiImportJob): Promise<void>;
  launchExport(job: ApiExportJob): Promise<void>;
}

/** What the handlers work with. */
export interface ApiContext {
  readonly deps: RuntimeDeps;
  readonly idempotency: IdempotencyStore;
  readonly launcher: JobLauncher;
}

/** How long presigned download links stay valid. */
const LINK_SECONDS = 3600;
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
});
type ImportParams = z.infer<typeof ImportParams>;

function invalid(error: z.ZodError): ApiRequestError {
  const problems = error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
  return new ApiRequestError(400, 'INVALID_REQUEST', problems.join('; '));
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(result.error);
  return result.data;
}

/** The caller may act only for its own domain (locally, with no identity, any domain given is trusted). */
function authorize(caller: Caller, domainId: string): void {
  if (caller.domainId !== undefined && caller.domainId !== domainId) {
    throw new ApiRequestError(403, 'FORBIDDEN', 'the caller may not act for this domain');
  }
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

const fromQuery = (query: URLSearchParams): Record<string, string> => Object.fromEntries(query.entries());

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
  const hash = requestHash({
    resource_type: params.resource_type,
    format: params.format,
    domain_id: params.domain_id,
    group_id: params.group_id,
    source_uri: params.source_uri,
    body_sha256: staged?.sha256,
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

const JobId = z.uuid();

function jobIdParam(params: Readonly<Record<string, string>>): string {
  const parsed = JobId.safeParse(params.job_id);
  if (!parsed.success) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  return parsed.data;
}

async function uploadImportFile(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const { config, store } = context.deps;
  const job = await query<{
    kind: string;
    format: string;
    domain_id: string;
    group_id: string;
    created_at: Date;
  }>(
    context.deps.pool,
    `SELECT kind, format, domain_id, group_id, created_at FROM import_jobs
     WHERE id = $1 AND origin = 'api'`,
    [jobId],
  );
  const row = job.rows[0];
  if (!row) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, row.domain_id);
  checkDeclaredLength(request.headers, config.apiMaxBodyBytes);
  const format = row.format as ApiImportJob['format'];
  const uri = uploadUri(context.deps, jobId);
  // Claim the upload first, so that two uploads to one job cannot both start it.
  const claimed = await query(
    context.deps.pool,
    `UPDATE import_jobs SET source = $2, updated_at = now() WHERE id = $1 AND source = $3 AND status = 'PENDING'`,
    [jobId, uri, AWAITING_UPLOAD],
  );
  if (claimed.rowCount === 0) {
    throw new ApiRequestError(409, 'UPLOAD_NOT_EXPECTED', 'this job already has its file');
  }
  try {
    await stageBody(store, uri, request.body, config.apiMaxBodyBytes);
  } catch (error) {
    await query(context.deps.pool, `UPDATE import_jobs SET source = $2 WHERE id = $1`, [
      jobId,
      AWAITING_UPLOAD,
    ]);
    throw error;
  }
  await launchOrFail(context, {
    jobId,
    resourceType: row.kind as ApiImportJob['resourceType'],
    format,
    domainId: row.domain_id,
    groupId: row.group_id,
    uri,
  });
  return {
    status: 202,
    json: { job_id: jobId, status: 'pending', created_at: row.created_at.toISOString() },
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
  const job = await getJob(pool, jobId);
  if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, job.domainId);
  const limit = pageSize(request.query);
  const after = decodeCursor(request.query.get('cursor'));
  const extra = await query<{
    format: string | null;
    failure_code: string | null;
    failure_message: string | null;
  }>(pool, 'SELECT format, failure_code, failure_message FROM import_jobs WHERE id = $1', [jobId]);
  const format = extra.rows[0];
  const offset = job.kind === 'nodes' && format?.format === 'ndjson' ? NDJSON_LINE_OFFSET : 0;
  const errors = (
    await query<{ line: string; errors: string[] }>(
      pool,
      `SELECT line, coalesce(errors, ARRAY[reason]) AS errors FROM import_job_errors
       WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3`,
      [jobId, after, limit + 1],
    )
  ).rows;
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
      errors: page.map((e) => ({ line: Number(e.line) - offset, errors: e.errors })),
      ...(errors.length > limit && last ? { next_cursor: encodeCursor(Number(last.line)) } : {}),
      ...(job.failedListUri && job.failedCount > 0
        ? { error_report_url: await downloadUrl(config, job.failedListUri, LINK_SECONDS) }
        : {}),
      ...failureOf(job.status, format),
      created_at: job.createdAt.toISOString(),
      completed_at: job.finishedAt?.toISOString() ?? null,
    },
  };
}

/**
 * The `failure` of a job that failed for a reason other than its rows (those record a code; a job failed by
 * its rows does not): the message recorded only when it was safe to show, otherwise a generic one.
 */
function failureOf(
  status: string,
  row: { failure_code: string | null; failure_message: string | null } | undefined,
): { failure?: { code: string; message: string } } {
  if (status !== 'FAILED' || !row?.failure_code) return {};
  const message = row.failure_message ?? `the job failed (${row.failure_code}); the operators' logs say why`;
  return { failure: { code: row.failure_code, message } };
}

const ExportParams = z.object({
  resource_type: z.enum(RESOURCE_TYPES),
  format: z.enum(EXPORT_FORMATS),
  domain_id: z.uuid(),
  group_id: z.string().trim().min(1).max(255).optional(),
  updated_since: z.iso.datetime({ offset: true }).optional(),
  fields: z.array(z.string().min(1)).max(100).optional(),
});

const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
};

async function streamExport(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const raw = fromQuery(request.query);
  const params = parse(ExportParams, {
    ...raw,
    fields: raw.fields === undefined ? undefined : raw.fields.split(',').map((f) => f.trim()),
  });
  authorize(request.caller, params.domain_id);
  const query = {
    resourceType: params.resource_type,
    format: params.format,
    domainId: params.domain_id,
    ...(params.group_id !== undefined ? { groupId: params.group_id } : {}),
    ...(params.updated_since !== undefined ? { updatedSince: params.updated_since } : {}),
    ...(params.fields !== undefined ? { fields: params.fields } : {}),
  };
  checkExportQuery(query);
  const { pool, config } = context.deps;
  const rows = await countExportRows(pool, query);
  if (rows > config.apiStreamMaxRows) {
    throw new ApiRequestError(
      413,
      'EXPORT_TOO_LARGE',
      `${rows} rows are more than a streamed response carries (${config.apiStreamMaxRows}); use POST /v1/exports for a file`,
    );
  }
  return {
    status: 200,
    headers: {
      'content-type': CONTENT_TYPES[params.format],
      'content-disposition': `attachment; filename="${params.resource_type}.${params.format}"`,
    },
    stream: params.format === 'csv' ? exportCsvByCopy(pool, query) : exportChunks(pool, query),
  };
}

const AsyncExportBody = z.object({
  resource_type: z.enum(RESOURCE_TYPES),
  format: z.enum(EXPORT_FORMATS),
  domain_id: z.uuid(),
  filters: z
    .object({
      group_id: z.string().trim().min(1).max(255).optional(),
      updated_since: z.iso.datetime({ offset: true }).optional(),
    })
    .strict()
    .optional(),
  fields: z.array(z.string().min(1)).max(100).optional(),
});

async function createExport(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const key = idempotencyKey(request.headers);
  if (mediaType(request.headers) !== 'application/json') {
    throw new ApiRequestError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send application/json');
  }
  const body = parse(AsyncExportBody, await readJson(request.body));
  authorize(request.caller, body.domain_id);
  const job: ApiExportJob = {
    jobId: randomUUID(),
    resourceType: body.resource_type,
    format: body.format,
    domainId: body.domain_id,
    ...(body.filters?.group_id !== undefined ? { groupId: body.filters.group_id } : {}),
    ...(body.filters?.updated_since !== undefined ? { updatedSince: body.filters.updated_since } : {}),
    ...(body.fields !== undefined ? { fields: body.fields } : {}),
  };
  checkExportQuery(job);
  const hash = requestHash({ ...body, filters: body.filters ?? {}, fields: body.fields ?? [] });
  const { response, replayed } = await context.idempotency.once(
    { domainId: body.domain_id, key },
    hash,
    async () => {
      const { createdAt } = await createExportJob(context.deps, job);
      try {
        await context.launcher.launchExport(job);
      } catch (error) {
        await failExport(
          context.deps,
          job.jobId,
          error,
          `the job could not be started: ${(error as Error).message}`,
        );
        throw error;
      }
      return {
        status: 202,
        body: { job_id: job.jobId, status: 'pending', created_at: createdAt.toISOString() },
      };
    },
  );
  return { status: replayed ? 200 : response.status, json: response.body };
}

async function getExport(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const { config } = context.deps;
  const result = await query<{
    domain_id: string;
    status: string;
    exported: string;
    file_uri: string | null;
    created_at: Date;
    finished_at: Date | null;
    failure_code: string | null;
    failure_message: string | null;
  }>(
    context.deps.pool,
    `SELECT domain_id, status, exported, file_uri, created_at, finished_at, failure_code, failure_message
     FROM export_jobs WHERE id = $1`,
    [jobId],
  );
  const row = result.rows[0];
  if (!row) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, row.domain_id);
  return {
    status: 200,
    json: {
      job_id: jobId,
      status: row.status.toLowerCase(),
      total_records: Number(row.exported),
      ...(row.status === 'COMPLETED' && row.file_uri
        ? { download_url: await downloadUrl(config, row.file_uri, LINK_SECONDS) }
        : {}),
      ...failureOf(row.status, row),
      created_at: row.created_at.toISOString(),
      completed_at: row.finished_at?.toISOString() ?? null,
    },
  };
}

type Handler = Route<ApiContext>['handle'];

/** A route whose query parameters are those the document declares for it: one source for both. */
function route(method: Route<ApiContext>['method'], path: string, handle: Handler): Route<ApiContext> {
  const operation = (
    openapi.paths as Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>
  )[path]?.[method.toLowerCase()];
  const query = (operation?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  return { method, path, query, handle };
}

/** The API: every route `openapi.json` documents, and no other. */
export const ROUTES: readonly Route<ApiContext>[] = [
  route('POST', '/v1/imports', (request, _params, context) => createImport(request, context)),
  route('GET', '/v1/imports/{job_id}', getImport),
  route('PUT', '/v1/imports/{job_id}/file', uploadImportFile),
  route('GET', '/v1/exports', (request, _params, context) => streamExport(request, context)),
  route('POST', '/v1/exports', (request, _params, context) => createExport(request, context)),
  route('GET', '/v1/exports/{job_id}', getExport),
  route('GET', '/v1/openapi.json', async () => ({ status: 200, json: openapi })),
];
