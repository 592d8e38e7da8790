import type pg from 'pg';
import { query } from '../db/query.ts';
import type { JobStatusMessage } from '../model/types.ts';
import { jobNotFound } from './job-repository.ts';

/** Delivery state of a recorded status message. */
export type DeliveryStatus = 'PENDING' | 'SENT' | 'FAILED';

/**
 * Records a status message of a job (as published, or to be published: `delivery`), in the job's domain.
 * Returns the event id.
 *
 * @throws JobNotFoundError when there is no such job.
 */
export async function recordStatusEvent(
  pool: pg.Pool,
  jobId: string,
  topic: string,
  payload: JobStatusMessage | Readonly<Record<string, unknown>>,
  delivery: { readonly status?: DeliveryStatus; readonly error?: string } = {},
): Promise<string> {
  const status = delivery.status ?? 'SENT';
  const result = await query<{ id: string }>(
    pool,
    `INSERT INTO job_status_events (job_id, domain_id, topic, payload, delivery_status, delivery_error, published_at)
     SELECT j.id, j.domain_id, $2::text, $3::jsonb, $4::varchar, $5::text, CASE WHEN $4::varchar = 'SENT' THEN now() END
     FROM import_jobs j WHERE j.id = $1
     RETURNING id`,
    [jobId, topic, JSON.stringify(payload), status, delivery.error ?? null],
  );
  const row = result.rows[0];
  if (!row) throw jobNotFound(jobId);
  return row.id;
}

/** The payload of the job's latest recorded status message, or undefined when none was recorded. */
export async function getLatestStatusEvent(
  pool: pg.Pool,
  jobId: string,
  domainId?: string,
): Promise<JobStatusMessage | undefined> {
  const result = await query<{ payload: JobStatusMessage }>(
    pool,
    `SELECT payload FROM job_status_events
     WHERE job_id = $1 AND ($2::uuid IS NULL OR domain_id = $2::uuid)
     ORDER BY id DESC LIMIT 1`,
    [jobId, domainId ?? null],
  );
  return result.rows[0]?.payload;
}
