import { mapDatabaseError } from '../db/errors.ts';
import { logger } from '../observability/logger.ts';
import type { RuntimeDeps } from '../runtime/deps.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { type ExportQuery, exportChunks } from './export-rows.ts';

/** An async export the API accepted. */
export interface ApiExportJob extends ExportQuery {
  readonly jobId: string;
}

/** Records the export (PENDING, triggered by the API) with what was asked. */
export async function createExportJob(deps: RuntimeDeps, job: ApiExportJob): Promise<{ createdAt: Date }> {
  try {
    const result = await deps.pool.query<{ created_at: Date }>(
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
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

/**
 * Writes the export to `reports/exports/<jobId>/<resource>.<format>` (S3 multipart upload, or the local
 * folder), streaming from the database, and records the row count and the file. A failure marks the job
 * FAILED with its reason.
 */
export async function runApiExport(deps: RuntimeDeps, job: ApiExportJob): Promise<void> {
  const { pool, store, config } = deps;
  const log = logger.createChild({ persistentKeys: { jobId: job.jobId, domainId: job.domainId } });
  try {
    await pool.query(
      `UPDATE export_jobs SET status = 'PROCESSING', started_at = now(), updated_at = now() WHERE id = $1`,
      [job.jobId],
    );
    let rows = 0;
    const uri = pipelineObjectUri(
      config,
      'reports',
      'exports',
      job.jobId,
      `${job.resourceType}.${job.format}`,
    );
    const written = await store.write(
      uri,
      exportChunks(pool, job, (n) => {
        rows += n;
      }),
      { contentType: job.format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
    );
    await pool.query(
      `UPDATE export_jobs SET status = 'COMPLETED', exported = $2, file_uri = $3, finished_at = now(), updated_at = now()
       WHERE id = $1`,
      [job.jobId, rows, written.uri],
    );
    log.info('API export finished', { rows, uri: written.uri });
  } catch (error) {
    log.error('API export failed', { error: error as Error });
    await pool.query(
      `UPDATE export_jobs SET status = 'FAILED', error = $2, finished_at = now(), updated_at = now() WHERE id = $1`,
      [job.jobId, error instanceof Error ? error.message : String(error)],
    );
  }
}
