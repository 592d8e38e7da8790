import type pg from 'pg';
import { query } from '../db/query.ts';

/** What `GET /v1/exports/{job_id}` shows of an export. */
export interface ExportJobView {
  readonly domainId: string;
  readonly status: string;
  readonly exported: number;
  readonly fileUri: string | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
}

/** An export, or `undefined` when there is none. */
export async function readExportJobView(pool: pg.Pool, jobId: string): Promise<ExportJobView | undefined> {
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
    pool,
    `SELECT domain_id, status, exported, file_uri, created_at, finished_at, failure_code, failure_message
     FROM export_jobs WHERE id = $1`,
    [jobId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    domainId: row.domain_id,
    status: row.status,
    exported: Number(row.exported),
    fileUri: row.file_uri,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
  };
}

/** A run of the user export (or an API export) for one group, as the console lists them. */
export interface ExportRunView {
  readonly id: string;
  readonly runId: string | null;
  readonly domainId: string;
  readonly groupId: string | null;
  readonly triggeredBy: string;
  readonly status: string;
  readonly fullExport: boolean | null;
  readonly exported: number;
  readonly messagesSent: number;
  readonly fileUri: string | null;
  readonly error: string | null;
  readonly durationMs: number | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

/** The newest `limit` export runs, of one domain (undefined: every domain) and group if given. */
export async function listExportRuns(
  pool: pg.Pool,
  filter: { readonly domainId?: string; readonly groupId?: string; readonly limit: number },
): Promise<ExportRunView[]> {
  const result = await query<{
    id: string;
    run_id: string | null;
    domain_id: string;
    group_id: string | null;
    triggered_by: string;
    status: string;
    full_export: boolean | null;
    exported: string;
    messages_sent: number;
    file_uri: string | null;
    error: string | null;
    duration_ms: string | null;
    created_at: Date;
    finished_at: Date | null;
  }>(
    pool,
    `SELECT id, run_id, domain_id, group_id, triggered_by, status, full_export, exported, messages_sent,
            file_uri, error, duration_ms, created_at, finished_at
     FROM export_jobs
     WHERE ($1::uuid IS NULL OR domain_id = $1) AND ($2::text IS NULL OR group_id = $2)
     ORDER BY created_at DESC, id DESC LIMIT $3`,
    [filter.domainId ?? null, filter.groupId ?? null, filter.limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    runId: row.run_id,
    domainId: row.domain_id,
    groupId: row.group_id,
    triggeredBy: row.triggered_by,
    status: row.status,
    fullExport: row.full_export,
    exported: Number(row.exported),
    messagesSent: row.messages_sent,
    fileUri: row.file_uri,
    error: row.error,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  }));
}
