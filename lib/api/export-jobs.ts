import { query } from '../db/query.ts';
import { isTransient, jobFailureOf } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { logger } from '../observability/logger.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { type ExportQuery, exportChunks } from './export-rows.ts';
import { type InProcessRetry, reasonOf, retryTransient } from './job-retries.ts';

/** An async export the API accepted. */
export interface ApiExportJob extends ExportQuery {
  readonly jobId: string;
}

/** Records the export (PENDING, triggered by the API) with what was asked. */
export async function createExportJob(deps: RuntimeDeps, job: ApiExportJob): Promise<{ createdAt: Date }> {
  const result = await query<{ created_at: Date }>(
    deps.pool,
    `INSERT INTO export_jobs (id, domain_id, group_id, resource_type, format, triggered_by, status, request)
     VALUES ($1, $2, $3, $4, $5, 'api', 'PENDING', $6::jsonb)
     RETURNING created_at`,
    [
      job.jobId,
      job.domainId,
      job.groupId ?? null,
      job.resourceType,
      job.format,
      JSON.stringify({ updated_since: job.updatedSince ?? null, fields: job.fields ?? null }),
    ],
  );
  return { createdAt: result.rows[0]?.created_at ?? new Date() };
}

/**
 * Writes the export to `reports/exports/<jobId>/<resource>.<format>` (S3 multipart upload, or the local
 * folder), streaming from the database, and records the row count and the file. A permanent failure marks the
 * job FAILED with its reason; a transient one ({@link isTransient}) is noted on the job, which stays
 * PROCESSING, and rethrown for the runner to retry, as for imports. A rerun rewrites the file.
 *
 * @throws the transient error, once noted on the job.
 */
export async function runApiExport(deps: RuntimeDeps, job: ApiExportJob): Promise<void> {
  const log = logger.createChild({ persistentKeys: { jobId: job.jobId, domainId: job.domainId } });
  try {
    await exportOnce(deps, job, log);
  } catch (error) {
    if (isTransient(error)) {
      log.warn('API export interrupted; to be retried', { error: error as Error });
      try {
        await setExportError(deps, job.jobId, `retrying after ${reasonOf(error)}`);
      } catch (noteError) {
        // Best effort: the database is often what failed, and the rethrown error is what gets the job retried.
        log.warn('could not note the retry on the export', { error: noteError as Error });
      }
      throw error;
    }
    log.error('API export failed', { error: error as Error });
    await failExport(deps, job.jobId, error);
  }
}

/**
 * Runs an accepted export in this process, where nothing retries it from outside: a transient failure is
 * retried as {@link retryTransient} says, then the export is FAILED with it.
 */
export function runApiExportInProcess(
  deps: RuntimeDeps,
  job: ApiExportJob,
  retry?: InProcessRetry,
): Promise<void> {
  return retryTransient(
    () => runApiExport(deps, job),
    (error) => failExport(deps, job.jobId, error),
    retry,
  );
}

async function exportOnce(deps: RuntimeDeps, job: ApiExportJob, log: typeof logger): Promise<void> {
  const { pool, store, config } = deps;
  await update(
    deps,
    `UPDATE export_jobs SET status = 'PROCESSING', started_at = now(), updated_at = now() WHERE id = $1`,
    [job.jobId],
  );
  let rows = 0;
  const uri = pipelineObjectUri(config, 'reports', 'exports', job.jobId, `${job.resourceType}.${job.format}`);
  const written = await store.write(
    uri,
    exportChunks(pool, job, (n) => {
      rows += n;
    }),
    { contentType: job.format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
  );
  await update(
    deps,
    `UPDATE export_jobs SET status = 'COMPLETED', exported = $2, file_uri = $3, error = NULL, finished_at = now(),
            updated_at = now()
     WHERE id = $1`,
    [job.jobId, rows, written.uri],
  );
  log.info('API export finished', { rows, uri: written.uri });
}

/** Records `reason` on a running export, which keeps its status. */
function setExportError(deps: RuntimeDeps, jobId: string, reason: string): Promise<void> {
  return update(
    deps,
    `UPDATE export_jobs SET error = $2, updated_at = now() WHERE id = $1 AND status IN ('PENDING', 'PROCESSING')`,
    [jobId, reason],
  );
}

/** Fails an export with the reason of `error` (for operators) and its {@link jobFailureOf} (for its caller). */
export function failExport(
  deps: RuntimeDeps,
  jobId: string,
  error: unknown,
  reason = reasonOf(error),
): Promise<void> {
  const failure = jobFailureOf(error);
  return update(
    deps,
    `UPDATE export_jobs SET status = 'FAILED', error = $2, failure_code = $3, failure_message = $4, finished_at = now(),
            updated_at = now()
     WHERE id = $1`,
    [jobId, reason, failure.code, failure.message ?? null],
  );
}

async function update(deps: RuntimeDeps, text: string, values: unknown[]): Promise<void> {
  await query(deps.pool, text, values);
}
