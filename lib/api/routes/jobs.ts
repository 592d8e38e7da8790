import { z } from 'zod';
import { ApiRequestError } from '../../errors.ts';
import { downloadUrl } from '../../storage/presign.ts';
import { listExportRuns } from '../export-job-queries.ts';
import type { ApiRequest, ApiResponse, Caller, Route } from '../http.ts';
import { RESOURCE_TYPES } from '../import-jobs.ts';
import {
  type JobSummary,
  listJobSummaries,
  listStatusDeliveries,
  readJobSummary,
} from '../job-list-queries.ts';
import {
  type ApiContext,
  authorizeRead,
  failureOf,
  fromQuery,
  jobIdParam,
  LINK_SECONDS,
  parse,
  route,
} from './shared.ts';

const JOB_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;

const ListParams = z.object({
  kind: z.enum(RESOURCE_TYPES).optional(),
  status: z.enum(JOB_STATUSES).optional(),
  group_id: z.string().trim().min(1).max(255).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

const Cursor = z.tuple([z.string().min(1).max(64), z.uuid()]);

/** A page cursor: the last job shown, as (created_at, id), opaque to callers. */
const encodeCursor = (job: JobSummary): string =>
  Buffer.from(JSON.stringify([job.createdAtText, job.id])).toString('base64url');

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = Cursor.safeParse(parsed);
  if (!result.success) throw new ApiRequestError(400, 'INVALID_CURSOR', 'cursor is not one this API gave');
  return { createdAt: result.data[0], id: result.data[1] };
}

/** The domain a caller's list is limited to: its own, unless it is an operator (or the trusted local caller). */
const scopeOf = (caller: Caller): string | undefined => (caller.admin ? undefined : caller.domainId);

/**
 * A job as the list shows it: the counts of `GET /v1/imports/{job_id}` (without its failed rows) with its
 * kind, group, batches and speed. Rows per second over the time it has run so far.
 */
async function jobJson(job: JobSummary, context: ApiContext) {
  const rows = job.processed + job.failedCount;
  const seconds = job.elapsedSeconds;
  return {
    job_id: job.id,
    kind: job.kind,
    resource_type: job.kind,
    domain_id: job.domainId,
    group_id: job.groupId,
    status: job.status.toLowerCase(),
    total_records: job.total,
    processed_count: rows,
    success_count: job.processed,
    fail_count: job.failedCount,
    batches_done: job.batchesDone,
    batches_total: job.batchesTotal,
    rows_per_second: seconds !== null && seconds > 0 ? Math.round(rows / seconds) : null,
    ...(job.failedListUri && job.failedCount > 0
      ? { error_report_url: await downloadUrl(context.deps.config, job.failedListUri, LINK_SECONDS) }
      : {}),
    ...failureOf(job),
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.finishedAt?.toISOString() ?? null,
  };
}

async function listJobs(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const params = parse(ListParams, fromQuery(request.query));
  const scope = scopeOf(request.caller);
  // One row past the page says whether there is a next one.
  const jobs = await listJobSummaries(context.deps.pool, {
    ...(scope !== undefined ? { domainId: scope } : {}),
    ...(params.kind !== undefined ? { kind: params.kind } : {}),
    ...(params.status !== undefined ? { status: params.status.toUpperCase() } : {}),
    ...(params.group_id !== undefined ? { groupId: params.group_id } : {}),
    ...(params.since !== undefined ? { since: new Date(params.since) } : {}),
    ...(params.cursor !== undefined ? { after: decodeCursor(params.cursor) } : {}),
    limit: params.limit + 1,
  });
  const page = jobs.slice(0, params.limit);
  const last = page.at(-1);
  return {
    status: 200,
    json: {
      jobs: await Promise.all(page.map((job) => jobJson(job, context))),
      next_cursor: jobs.length > params.limit && last ? encodeCursor(last) : null,
    },
  };
}

async function getJob(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const { pool, config } = context.deps;
  const job = await readJobSummary(pool, jobId);
  if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  authorizeRead(request.caller, job.domainId);
  const deliveries = await listStatusDeliveries(pool, jobId);
  return {
    status: 200,
    json: {
      ...(await jobJson(job, context)),
      ...(job.successListUri
        ? { success_list_url: await downloadUrl(config, job.successListUri, LINK_SECONDS) }
        : {}),
      status_messages: deliveries.map((d) => ({
        destination: d.topic,
        delivery_status: d.deliveryStatus.toLowerCase(),
        delivery_error: d.deliveryError,
        published_at: d.publishedAt?.toISOString() ?? null,
        message: d.payload,
      })),
    },
  };
}

const ExportRunParams = z.object({
  group_id: z.string().trim().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** The newest export runs, per group: what the daily export and API exports did. */
async function listExportRunsRoute(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const params = parse(ExportRunParams, fromQuery(request.query));
  const scope = scopeOf(request.caller);
  const runs = await listExportRuns(context.deps.pool, {
    ...(scope !== undefined ? { domainId: scope } : {}),
    ...(params.group_id !== undefined ? { groupId: params.group_id } : {}),
    limit: params.limit,
  });
  return {
    status: 200,
    json: {
      runs: runs.map((run) => ({
        job_id: run.id,
        run_id: run.runId,
        domain_id: run.domainId,
        group_id: run.groupId,
        triggered_by: run.triggeredBy,
        status: run.status.toLowerCase(),
        full_export: run.fullExport,
        exported: run.exported,
        messages_sent: run.messagesSent,
        file: run.fileUri,
        error: request.caller.admin ? run.error : null,
        duration_ms: run.durationMs,
        created_at: run.createdAt.toISOString(),
        completed_at: run.finishedAt?.toISOString() ?? null,
      })),
    },
  };
}

/** The jobs of the caller's domain (every domain for an operator), newest first, and one job in full. */
export const JOB_ROUTES: readonly Route<ApiContext>[] = [
  route('GET', '/v1/jobs', (request, _params, context) => listJobs(request, context)),
  route('GET', '/v1/jobs/{job_id}', getJob),
  route('GET', '/v1/export-runs', (request, _params, context) => listExportRunsRoute(request, context)),
];
