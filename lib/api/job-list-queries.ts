import type pg from 'pg';
import { query } from '../db/query.ts';

/** A job as the jobs list and the console show it: its state, its counts and how fast it moves. */
export interface JobSummary {
  readonly id: string;
  readonly kind: string;
  readonly domainId: string;
  readonly groupId: string;
  readonly status: string;
  readonly total: number;
  readonly processed: number;
  readonly failedCount: number;
  readonly batchesDone: number;
  /** The batches the plan cut, where the job records them; null before the plan. */
  readonly batchesTotal: number | null;
  readonly failedListUri: string | null;
  readonly successListUri: string | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** Seconds between the start and the end (or now, while it runs). */
  readonly elapsedSeconds: number | null;
  /** `created_at` as PostgreSQL prints it: exact to the microsecond, so a cursor made of it misses no job. */
  readonly createdAtText: string;
}

/** What a page of the list is filtered by; `domainId` undefined: every domain (an operator). */
export interface JobFilter {
  readonly domainId?: string;
  readonly kind?: string;
  readonly status?: string;
  readonly groupId?: string;
  readonly since?: Date;
  /** The last job of the previous page: the list goes on strictly after it. */
  readonly after?: { readonly createdAt: string; readonly id: string };
  readonly limit: number;
}

const OPEN = `('PENDING', 'PROCESSING')`;

interface JobSummaryRow {
  id: string;
  kind: string;
  domain_id: string;
  group_id: string;
  status: string;
  total: string;
  processed: string;
  failed_count: string;
  batches_done: string;
  batches_total: string | null;
  failed_list_uri: string | null;
  success_list_uri: string | null;
  failure_code: string | null;
  failure_message: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  elapsed_seconds: number | null;
  created_at_text: string;
}

/** A running job shows its running counters (migration 0011); a finished one its final figures. */
const SUMMARY_COLUMNS = `j.id, j.kind, j.domain_id, j.group_id, j.status, j.total,
  CASE WHEN j.status IN ${OPEN} THEN j.rows_written ELSE j.processed END AS processed,
  CASE WHEN j.status IN ${OPEN} THEN j.rows_failed ELSE j.failed_count END AS failed_count,
  j.batches_done, j.batches_total,
  j.failed_list_uri, j.success_list_uri, j.failure_code, j.failure_message, j.created_at, j.started_at,
  j.finished_at, extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at)::float8 AS elapsed_seconds,
  j.created_at::text AS created_at_text`;

function toSummary(row: JobSummaryRow): JobSummary {
  return {
    id: row.id,
    kind: row.kind,
    domainId: row.domain_id,
    groupId: row.group_id,
    status: row.status,
    total: Number(row.total),
    processed: Number(row.processed),
    failedCount: Number(row.failed_count),
    batchesDone: Number(row.batches_done),
    batchesTotal: row.batches_total === null ? null : Number(row.batches_total),
    failedListUri: row.failed_list_uri,
    successListUri: row.success_list_uri,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    elapsedSeconds: row.elapsed_seconds,
    createdAtText: row.created_at_text,
  };
}

/**
 * One page of jobs, newest first, in one statement. Keyset paging on (created_at, id), which the indexes
 * on import_jobs serve with or without a domain.
 */
export async function listJobSummaries(pool: pg.Pool, filter: JobFilter): Promise<JobSummary[]> {
  const values: unknown[] = [];
  const where: string[] = [];
  const bind = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.domainId !== undefined) where.push(`j.domain_id = ${bind(filter.domainId)}`);
  if (filter.kind !== undefined) where.push(`j.kind = ${bind(filter.kind)}`);
  if (filter.status !== undefined) where.push(`j.status = ${bind(filter.status)}`);
  if (filter.groupId !== undefined) where.push(`j.group_id = ${bind(filter.groupId)}`);
  if (filter.since !== undefined) where.push(`j.created_at >= ${bind(filter.since)}`);
  if (filter.after !== undefined) {
    where.push(
      `(j.created_at, j.id) < (${bind(filter.after.createdAt)}::timestamptz, ${bind(filter.after.id)})`,
    );
  }
  const result = await query<JobSummaryRow>(
    pool,
    `SELECT ${SUMMARY_COLUMNS} FROM import_jobs j
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY j.created_at DESC, j.id DESC LIMIT ${bind(filter.limit)}`,
    values,
  );
  return result.rows.map(toSummary);
}

/** One job's summary, or `undefined` when there is none. */
export async function readJobSummary(pool: pg.Pool, jobId: string): Promise<JobSummary | undefined> {
  const result = await query<JobSummaryRow>(
    pool,
    `SELECT ${SUMMARY_COLUMNS} FROM import_jobs j WHERE j.id = $1`,
    [jobId],
  );
  const row = result.rows[0];
  return row ? toSummary(row) : undefined;
}

/** A status message of a job as published, and where it went. */
export interface StatusDelivery {
  readonly topic: string;
  readonly deliveryStatus: string;
  readonly deliveryError: string | null;
  readonly publishedAt: Date | null;
  readonly payload: unknown;
}

/** The status messages of a job in the order they were recorded (one per destination). */
export async function listStatusDeliveries(pool: pg.Pool, jobId: string): Promise<StatusDelivery[]> {
  const result = await query<{
    topic: string;
    delivery_status: string;
    delivery_error: string | null;
    published_at: Date | null;
    payload: unknown;
  }>(
    pool,
    `SELECT topic, delivery_status, delivery_error, published_at, payload FROM job_status_events
     WHERE job_id = $1 ORDER BY id`,
    [jobId],
  );
  return result.rows.map((row) => ({
    topic: row.topic,
    deliveryStatus: row.delivery_status,
    deliveryError: row.delivery_error,
    publishedAt: row.published_at,
    payload: row.payload,
  }));
}
