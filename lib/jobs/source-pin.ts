import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { query } from '../db/query.ts';
import { SourceChangedError } from '../errors.ts';
import type { SourcePin } from '../model/types.ts';

/** Marks a job a dry run, for its status message and reports. */
export async function markDryRun(pool: pg.Pool, jobId: string): Promise<void> {
  await query(pool, 'UPDATE import_jobs SET dry_run = true WHERE id = $1', [jobId]);
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
