import { ApiRequestError } from '../../errors.ts';
import { downloadUrl } from '../../storage/presign.ts';
import { type ImportJobView, listImportRowErrors } from '../import-job-queries.ts';
import { NDJSON_LINE_OFFSET } from '../ndjson-nodes.ts';
import { type ApiContext, failureOf, LINK_SECONDS } from './shared.ts';

const DEFAULT_ERROR_PAGE = 100;
const MAX_ERROR_PAGE = 1000;

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

/** A job that ended: its counts are final and its events stream ends. */
export const isFinal = (status: string) => status === 'COMPLETED' || status === 'FAILED';

/**
 * What `GET /v1/imports/{job_id}` answers, and what its events carry: the job, one page of its failed rows
 * (`cursor`, `limit` of `query`) and its progress. While the job runs its counts are the running counters;
 * once it ended, its final figures (the same numbers when every batch completed).
 */
export async function importJobBody(
  context: ApiContext,
  job: ImportJobView,
  query: URLSearchParams,
): Promise<Record<string, unknown>> {
  const { pool, config } = context.deps;
  const limit = pageSize(query);
  const after = decodeCursor(query.get('cursor'));
  const offset = job.kind === 'nodes' && job.format === 'ndjson' ? NDJSON_LINE_OFFSET : 0;
  // One row past the page says whether there is a next one.
  const errors = await listImportRowErrors(pool, job.id, after, limit + 1);
  const page = errors.slice(0, limit);
  const last = page.at(-1);
  const { progress, counters } = job.progress;
  const final = isFinal(job.status);
  const written = final ? job.processed : progress.rowsWritten;
  const failed = final ? job.failedCount : progress.rowsFailed;
  return {
    job_id: job.id,
    resource_type: job.kind,
    status: job.status.toLowerCase(),
    total_records: job.total,
    processed_count: written + failed,
    success_count: written,
    fail_count: failed,
    stale_count: job.staleCount,
    progress: {
      rows_done: progress.rowsDone,
      batches_done: progress.batchesDone,
      batches_total: progress.batchesTotal,
      percentage: progress.percentage,
      rows_per_second: progress.rowsPerSecond,
      eta_seconds: progress.etaSeconds,
      updated_at: counters.progressAt?.toISOString() ?? null,
    },
    errors: page.map((e) => ({
      line: e.line - offset,
      errors: e.errors,
      ...(e.part !== undefined ? { part: e.part, part_row: e.partRow } : {}),
    })),
    ...(errors.length > limit && last ? { next_cursor: encodeCursor(last.line) } : {}),
    ...(job.failedListUri && job.failedCount > 0
      ? { error_report_url: await downloadUrl(config, job.failedListUri, LINK_SECONDS) }
      : {}),
    ...failureOf(job),
    created_at: job.createdAt.toISOString(),
    completed_at: job.finishedAt?.toISOString() ?? null,
  };
}
