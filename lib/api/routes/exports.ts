import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiRequestError } from '../../errors.ts';
import { downloadUrl } from '../../storage/presign.ts';
import { mediaType, readJson } from '../body.ts';
import { readExportJobView } from '../export-job-queries.ts';
import { type ApiExportJob, createExportJob, failExport } from '../export-jobs.ts';
import {
  checkExportQuery,
  countExportRows,
  EXPORT_FORMATS,
  type ExportFormat,
  exportChunks,
  exportCsvByCopy,
} from '../export-rows.ts';
import type { ApiRequest, ApiResponse, Route } from '../http.ts';
import { idempotencyKey, requestHash } from '../idempotency.ts';
import { RESOURCE_TYPES } from '../import-jobs.ts';
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
  const job = await readExportJobView(context.deps.pool, jobId);
  if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorize(request.caller, job.domainId);
  return {
    status: 200,
    json: {
      job_id: jobId,
      status: job.status.toLowerCase(),
      total_records: job.exported,
      ...(job.status === 'COMPLETED' && job.fileUri
        ? { download_url: await downloadUrl(config, job.fileUri, LINK_SECONDS) }
        : {}),
      ...failureOf(job),
      created_at: job.createdAt.toISOString(),
      completed_at: job.finishedAt?.toISOString() ?? null,
    },
  };
}

/** Streaming an export, or starting one as a file and reading its status. */
export const EXPORT_ROUTES: readonly Route<ApiContext>[] = [
  route('GET', '/v1/exports', (request, _params, context) => streamExport(request, context)),
  route('POST', '/v1/exports', (request, _params, context) => createExport(request, context)),
  route('GET', '/v1/exports/{job_id}', getExport),
];
