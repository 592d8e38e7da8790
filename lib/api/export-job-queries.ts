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
