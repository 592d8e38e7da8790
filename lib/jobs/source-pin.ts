import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { query } from '../db/query.ts';
import { SourceChangedError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';

/** Records what a request asked of its job beyond its source: a dry run, an absolute failure budget. */
export async function recordJobTerms(
  pool: pg.Pool,
  jobId: string,
  terms: { readonly dryRun?: boolean | undefined; readonly maxFailedRows?: number | undefined },
): Promise<void> {
  if (!terms.dryRun && terms.maxFailedRows === undefined) return;
  await query(pool, 'UPDATE import_jobs SET dry_run = dry_run OR $2, max_failed_rows = $3 WHERE id = $1', [
    jobId,
    terms.dryRun === true,
    terms.maxFailedRows ?? null,
  ]);
}

/**
 * Fixes the as-of of a job's rows the first time it plans: the request's `asOf`, else the source's
 * last-modified time (`modifiedAt`), else now. A later plan of the same job (`jobs resume`, a re-run
 * execution) keeps the first one, so every batch of the job writes with the same as-of.
 *
 * @returns the job's as-of.
 */
export async function fixJobAsOf(
  pool: pg.Pool,
  jobId: string,
  asOf: string | undefined,
  modifiedAt: string | undefined,
): Promise<Date> {
  const result = await query<{ as_of: Date }>(
    pool,
    `UPDATE import_jobs SET as_of = coalesce(as_of, $2::timestamptz, $3::timestamptz, statement_timestamp())
     WHERE id = $1 RETURNING as_of`,
    [jobId, asOf ?? null, modifiedAt ?? null],
  );
  return result.rows[0]?.as_of ?? new Date();
}

/**
 * Records the version of its source a job plans against, the first time it plans, and checks every later
 * plan of the same job (`jobs resume`, a re-run execution) against it: their completed batches read the
 * pinned version, so the rest must too.
 *
 * @throws SourceChangedError `SOURCE_CHANGED` when the job pinned another version before.
 */
export async function pinJobSource(pool: pg.Pool, jobId: string, uri: string, pin: SourcePin): Promise<void> {
  const result = await query<{ source_pin: SourcePin }>(
    pool,
    `UPDATE import_jobs SET source_pin = coalesce(source_pin, $2::jsonb) WHERE id = $1 RETURNING source_pin`,
    [jobId, JSON.stringify(pin)],
  );
  const pinned = result.rows[0]?.source_pin;
  if (pinned !== undefined && !isDeepStrictEqual(pinned, pin)) {
    throw new SourceChangedError(`the source changed since the job was first planned: ${uri}`, {
      uri,
      pinned,
      found: pin,
    });
  }
}
