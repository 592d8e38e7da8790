import { randomUUID } from 'node:crypto';
import type pg from 'pg';

const DAY_MS = 24 * 60 * 60 * 1000;

/** An instant `days` days before now. */
export function daysAgo(days: number): Date {
  return new Date(Date.now() - days * DAY_MS);
}

/** A job row as the tests insert it, with rows in every table that hangs off a job. */
export interface TestJob {
  readonly kind?: 'nodes' | 'matches' | 'users';
  readonly status: 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  /** Days since it finished (or, for a job still open, since it was created). */
  readonly age: number;
  readonly errors?: number;
}

/**
 * Inserts a job finished (or created, when not final) `age` days ago, with `errors` error rows (generated in
 * the database: a million costs no client memory), two batch records, a DB batch record and a status event.
 */
export async function insertJob(pool: pg.Pool, domainId: string, job: TestJob): Promise<string> {
  const id = randomUUID();
  const at = daysAgo(job.age);
  const final = job.status === 'COMPLETED' || job.status === 'FAILED';
  await pool.query(
    `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin, created_at, started_at,
                              finished_at, updated_at)
     VALUES ($1, $2, $3, 'g', $4, 'test', 'test', $5, $5, $6, $5)`,
    [id, job.kind ?? 'nodes', domainId, job.status, at, final ? at : null],
  );
  await pool.query(
    `INSERT INTO import_job_errors (job_id, line, domain_id, reference, code, reason)
     SELECT $1, line, $2, 'ref-' || line, 'INVALID', 'a reason' FROM generate_series(2, $3::int + 1) AS line`,
    [id, domainId, job.errors ?? 3],
  );
  for (const index of [0, 1]) {
    await pool.query(
      `INSERT INTO import_job_batches (job_id, batch_index, batch_key, row_count, inserted, updated, duplicates,
                                       failed, duration_ms)
       VALUES ($1, $2, 'k', 1, 1, 0, 0, 0, 1)`,
      [id, index],
    );
  }
  await pool.query(
    `INSERT INTO import_job_db_batches (job_id, batch_index, batch_key, row_offset, row_count, inserted, updated)
     VALUES ($1, 0, 'k', 0, 1, 1, 0)`,
    [id],
  );
  await pool.query(
    `INSERT INTO job_status_events (job_id, domain_id, topic, payload) VALUES ($1, $2, 't', '{}'::jsonb)`,
    [id, domainId],
  );
  return id;
}

/** Inserts an export run that ended (or, when not final, started) `age` days ago. */
export async function insertExportRun(
  pool: pg.Pool,
  domainId: string,
  status: 'PROCESSING' | 'COMPLETED' | 'FAILED',
  age: number,
): Promise<string> {
  const at = daysAgo(age);
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO export_jobs (domain_id, group_id, status, created_at, started_at, finished_at)
     VALUES ($1, 'g', $2, $3, $3, $4) RETURNING id`,
    [domainId, status, at, status === 'PROCESSING' ? null : at],
  );
  return rows[0]!.id;
}

/** Inserts an API idempotency key expiring (negative: expired) in `days`, held until `lockedDays`. */
export async function insertKey(
  pool: pg.Pool,
  domainId: string,
  days: number,
  lockedDays = -1,
): Promise<string> {
  const key = randomUUID();
  await pool.query(
    `INSERT INTO api_idempotency_keys (domain_id, key, request_hash, status, locked_until, expires_at)
     VALUES ($1, $2, repeat('0', 64), 'COMPLETED', $3, $4)`,
    [domainId, key, daysAgo(-lockedDays), daysAgo(-days)],
  );
  return key;
}

/** The rows of a domain in each table prune touches (tombstones by domain too). */
export async function rowCounts(pool: pg.Pool, domainId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM import_jobs WHERE domain_id = $1) AS import_jobs,
            (SELECT count(*) FROM import_job_errors WHERE domain_id = $1) AS import_job_errors,
            (SELECT count(*) FROM import_job_batches b JOIN import_jobs j ON j.id = b.job_id
              WHERE j.domain_id = $1) AS import_job_batches,
            (SELECT count(*) FROM import_job_db_batches b JOIN import_jobs j ON j.id = b.job_id
              WHERE j.domain_id = $1) AS import_job_db_batches,
            (SELECT count(*) FROM job_status_events WHERE domain_id = $1) AS job_status_events,
            (SELECT count(*) FROM export_jobs WHERE domain_id = $1) AS export_jobs,
            (SELECT count(*) FROM user_removals WHERE domain_id = $1) AS user_removals,
            (SELECT count(*) FROM api_idempotency_keys WHERE domain_id = $1) AS api_idempotency_keys`,
    [domainId],
  );
  return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
}
