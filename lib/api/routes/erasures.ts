import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { createPendingErasureJob, getErasureRecord } from '../../erasure/erasure-repository.ts';
import { erasureInput } from '../../erasure/erasure-request.ts';
import { ApiRequestError, jobFailureOf } from '../../errors.ts';
import { failJob } from '../../jobs/job-repository.ts';
import { referenceListUri, writeReferenceList } from '../../jobs/reference-list.ts';
import { pipelineObjectUri } from '../../storage/staging.ts';
import { checkDeclaredLength, mediaType, readJson, stageBody } from '../body.ts';
import { erasureBodyIds } from '../erasure-body.ts';
import type { ApiRequest, ApiResponse, Route } from '../http.ts';
import { idempotencyKey, requestHash } from '../idempotency.ts';
import { readImportJobView } from '../import-job-queries.ts';
import { type ApiContext, authorize, failureOf, fromQuery, jobIdParam, parse, route } from './shared.ts';

const Target = z.object({
  domain_id: z.uuid(),
  group_id: z.string().trim().min(1).max(255).optional(),
});

const JsonErasure = Target.extend({
  references: z.array(z.string().max(4096)).min(1),
});

const BODY_FORMATS: Readonly<Record<string, 'csv' | 'ndjson'>> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
};

/**
 * `POST /v1/erasures`: JSON `{domain_id, group_id?, references}`, or a CSV (`reference_id` column) or
 * NDJSON body of ids with `?domain_id=&group_id=`. The ids are staged as a reference import stages its
 * list (streamed, any size within the body limit), the job is recorded PENDING and its erasure started.
 */
async function createErasure(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const key = idempotencyKey(request.headers);
  const { config, store, pool } = context.deps;
  checkDeclaredLength(request.headers, config.apiMaxBodyBytes);
  const jobId = randomUUID();
  const listUri = referenceListUri(config, jobId);
  const type = mediaType(request.headers);
  const format = BODY_FORMATS[type];
  let target: z.infer<typeof Target>;
  let hashOfIds: string;
  if (type === 'application/json') {
    const body = parse(JsonErasure, await readJson(request.body));
    target = body;
    authorize(request.caller, target.domain_id);
    hashOfIds = requestHash({ references: body.references });
    await writeReferenceList(store, listUri, body.references);
  } else if (format) {
    target = parse(Target, fromQuery(request.query));
    authorize(request.caller, target.domain_id);
    const raw = pipelineObjectUri(config, 'staging', jobId, `body.${format}`);
    const staged = await stageBody(store, raw, request.body, config.apiMaxBodyBytes, type);
    hashOfIds = staged.sha256;
    try {
      const written = await writeReferenceList(store, listUri, erasureBodyIds(store, raw, format));
      if (written.count === 0)
        throw new ApiRequestError(400, 'INVALID_REQUEST', 'the body holds no reference');
    } finally {
      await store.remove(raw);
    }
  } else {
    throw new ApiRequestError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'send application/json, text/csv or application/x-ndjson',
    );
  }
  const hash = requestHash({ domain_id: target.domain_id, group_id: target.group_id, ids: hashOfIds });
  const origin = `api:${request.caller.principal}`;
  const staging = pipelineObjectUri(config, 'staging', jobId);
  let outcome: Awaited<ReturnType<typeof context.idempotency.once>>;
  try {
    outcome = await context.idempotency.once({ domainId: target.domain_id, key }, hash, async () => {
      const input = erasureInput(
        { domainId: target.domain_id, groupId: target.group_id },
        jobId,
        origin,
        listUri,
      );
      const createdAt = await createPendingErasureJob(pool, { ...input, source: listUri });
      try {
        await context.launcher.launchErasure(input);
      } catch (error) {
        await failJob(
          pool,
          jobId,
          `the job could not be started: ${(error as Error).message}`,
          jobFailureOf(error),
        );
        throw error;
      }
      return { status: 202, body: { job_id: jobId, status: 'pending', created_at: createdAt.toISOString() } };
    });
  } catch (error) {
    // Refused (another request under the key, a racing twin) or not started: its staged ids go.
    await store.remove(staging);
    throw error;
  }
  const { response, replayed } = outcome;
  // A replay started nothing: its staged list is not the job's.
  if (replayed) await store.remove(staging);
  return { status: replayed ? 200 : response.status, json: response.body };
}

/** `GET /v1/erasures/{job_id}`: the job's state and its erasure record (counts only, never an id). */
async function getErasure(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const jobId = jobIdParam(params);
  const job = await readImportJobView(context.deps.pool, jobId);
  if (job?.kind !== 'erasure') throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such erasure');
  authorize(request.caller, job.domainId);
  const record = await getErasureRecord(context.deps.pool, jobId, job.domainId);
  return {
    status: 200,
    json: {
      job_id: job.id,
      status: job.status.toLowerCase(),
      domain_id: job.domainId,
      group_id: record ? record.groupId : null,
      total_records: job.total,
      erased_count: job.processed,
      fail_count: job.failedCount,
      deleted_rows: record?.counts ?? {},
      objects: record?.objects ?? {},
      ...failureOf(job),
      created_at: job.createdAt.toISOString(),
      completed_at: job.finishedAt?.toISOString() ?? null,
    },
  };
}

/** Requesting an erasure and reading its outcome. */
export const ERASURE_ROUTES: readonly Route<ApiContext>[] = [
  route('POST', '/v1/erasures', (request, _params, context) => createErasure(request, context)),
  route('GET', '/v1/erasures/{job_id}', getErasure),
];
