import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiRequestError, jobFailureOf } from '../../errors.ts';
import { failJob } from '../../jobs/job-repository.ts';
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
import { claimUpload, readImportJobView, readUploadTarget, releaseUpload } from '../import-job-queries.ts';
import {
  type ApiImportJob,
  createImportJob,
  IMPORT_FORMATS,
  IMPORTABLE,
  RESOURCE_TYPES,
  uploadUri,
} from '../import-jobs.ts';
import { checkImportSource } from '../import-source.ts';
import { importJobBody } from './import-body.ts';
import { IMPORT_EVENT_ROUTES } from './import-events.ts';
import {
  type ApiContext,
  authorize,
  authorizeRead,
  fromQuery,
  jobIdParam,
  parse,
  queryOf,
  route,
} from './shared.ts';

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
  // The time of the data (ISO 8601 with an offset): the Kafka request's `asOf`, in the API's snake_case.
  as_of: z.iso.datetime({ offset: true }).optional(),
});
type ImportParams = z.infer<typeof ImportParams>;

/**
 * The as-of a request gives (`as_of`): rows older than the data a node or pair holds are not written. Users
 * have no as-of: their import refuses one rather than ignore it.
 */
function asOfOf(params: ImportParams): string | undefined {
  const asOf = params.as_of;
  if (asOf !== undefined && params.resource_type === 'users') {
    throw new ApiRequestError(400, 'AS_OF_UNSUPPORTED', 'as_of is offered for nodes and matches');
  }
  return asOf;
}

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

/** Raw bodies whose media type names no format: the query must. */
const UNTYPED_MEDIA = ['text/plain', 'application/octet-stream'];

/** How an import's file (or its source) comes: what each of the create routes takes. */
type BodyForm = 'json' | 'multipart' | 'raw';

const FORM_MEDIA: Readonly<Record<BodyForm, string>> = {
  json: 'application/json',
  multipart: 'multipart/form-data',
  raw: 'text/csv, application/x-ndjson, application/vnd.apache.parquet, or text/plain or application/octet-stream with ?format=',
};

function formOf(type: string): BodyForm | undefined {
  if (type === 'multipart/form-data') return 'multipart';
  if (type === 'application/json') return 'json';
  return MEDIA_FORMATS[type] !== undefined || UNTYPED_MEDIA.includes(type) ? 'raw' : undefined;
}

async function createImport(
  request: ApiRequest,
  context: ApiContext,
  forms: readonly BodyForm[],
): Promise<ApiResponse> {
  const key = idempotencyKey(request.headers);
  const { config, store } = context.deps;
  const limit = config.apiMaxBodyBytes;
  checkDeclaredLength(request.headers, limit);
  const jobId = randomUUID();
  const type = mediaType(request.headers);
  const form = formOf(type);
  if (form === undefined || !forms.includes(form)) {
    throw new ApiRequestError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `send ${forms.map((f) => FORM_MEDIA[f]).join(', or ')}`,
    );
  }
  let params: ImportParams;
  let staged: StagedBody | undefined;
  let source: string | undefined;
  if (form === 'multipart') {
    const parts = await readMultipart(
      request.body,
      request.headers,
      store,
      uploadUri(context.deps, jobId),
      limit,
    );
    params = parse(ImportParams.omit({ source_uri: true }), parts.fields);
    authorize(request.caller, params.domain_id);
    if (!parts.file)
      throw new ApiRequestError(400, 'INVALID_REQUEST', 'file: the multipart body has no file part');
    staged = parts.file;
  } else if (form === 'json') {
    params = parse(ImportParams, await readJson(request.body));
    authorize(request.caller, params.domain_id);
    if (params.source_uri !== undefined) {
      const parts = params.resource_type === 'matches' && params.format === 'parquet';
      source = await checkImportSource(context.deps, params.source_uri, params.domain_id, parts);
    }
  } else {
    params = parse(ImportParams.omit({ source_uri: true }), {
      format: MEDIA_FORMATS[type],
      ...fromQuery(request.query),
    });
    authorize(request.caller, params.domain_id);
    checkImportable(params);
    staged = await stageBody(store, uploadUri(context.deps, jobId), request.body, limit, type);
  }
  checkImportable(params);
  const dryRun = dryRunOf(request, params);
  const asOf = asOfOf(params);
  const hash = requestHash({
    resource_type: params.resource_type,
    format: params.format,
    domain_id: params.domain_id,
    group_id: params.group_id,
    source_uri: params.source_uri,
    body_sha256: staged?.sha256,
    ...(dryRun ? { dry_run: true } : {}),
    ...(asOf !== undefined ? { as_of: asOf } : {}),
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
        ...(asOf !== undefined ? { asOf } : {}),
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

async function getImport(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const job = await readImportJobView(context.deps.pool, jobIdParam(params));
  if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorizeRead(request.caller, job.domainId);
  return { status: 200, json: await importJobBody(context, job, request.query) };
}

/** Creating an import, uploading its file, reading its status and failed rows. */
export const IMPORT_ROUTES: readonly Route<ApiContext>[] = [
  // Before the forms had paths of their own, this one took them all, with the raw form's query: it still does.
  route(
    'POST',
    '/v1/imports',
    (request, _params, context) => createImport(request, context, ['json', 'multipart', 'raw']),
    queryOf('POST', '/v1/imports/raw'),
  ),
  route('POST', '/v1/imports/multipart', (request, _params, context) =>
    createImport(request, context, ['multipart']),
  ),
  route('POST', '/v1/imports/raw', (request, _params, context) => createImport(request, context, ['raw'])),
  route('GET', '/v1/imports/{job_id}', getImport),
  route('PUT', '/v1/imports/{job_id}/file', uploadImportFile),
  ...IMPORT_EVENT_ROUTES,
];
