import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import { query } from '../db/query.ts';
import type { JobRef } from '../model/types.ts';

/**
 * Removes the nodes of `referenceIds` from the job's group — their metadata goes with them (ON DELETE
 * CASCADE) — and the match suggestions on either side of them, and adds the nodes removed to the job's
 * `removed_count`, in one transaction: a slice run again (a retried step) removes nothing more and counts
 * nothing more, so each node is counted once. A node holding data of a newer as-of than the job's (an old
 * removal replayed after a newer import) is kept, with its suggestions: locked first, so it cannot turn
 * older before the deletes. Returns the nodes removed and those kept for their as-of.
 */
export async function removeNodeSlice(
  pool: pg.Pool,
  job: JobRef,
  referenceIds: readonly string[],
): Promise<{ removed: number; kept: number }> {
  return withTransaction(pool, async (client) => {
    const newer = await query<{ reference_id: string }>(
      client,
      `SELECT reference_id FROM nodes
        WHERE domain_id = $1 AND group_id = $2 AND reference_id = ANY($3::text[])
          AND as_of > coalesce((SELECT as_of FROM import_jobs WHERE id = $4), statement_timestamp())
        ORDER BY reference_id FOR UPDATE`,
      [job.domainId, job.groupId, referenceIds, job.jobId],
    );
    const kept = new Set(newer.rows.map((row) => row.reference_id));
    const ids = kept.size > 0 ? referenceIds.filter((id) => !kept.has(id)) : referenceIds;
    const scope = [job.domainId, job.groupId, ids];
    await query(
      client,
      `DELETE FROM match_suggestions
        WHERE domain_id = $1 AND group_id = $2 AND participant_id = ANY($3::text[])`,
      scope,
    );
    await query(
      client,
      `DELETE FROM match_suggestions
        WHERE domain_id = $1 AND group_id = $2 AND matched_participant_id = ANY($3::text[])`,
      scope,
    );
    const removed =
      (
        await query(
          client,
          'DELETE FROM nodes WHERE domain_id = $1 AND group_id = $2 AND reference_id = ANY($3::text[])',
          scope,
        )
      ).rowCount ?? 0;
    if (removed > 0) {
      await query(
        client,
        'UPDATE import_jobs SET removed_count = removed_count + $2, updated_at = now() WHERE id = $1',
        [job.jobId, removed],
      );
    }
    return { removed, kept: kept.size };
  });
}

/** The nodes a job has removed so far. */
export async function removedCount(pool: pg.Pool, jobId: string): Promise<number> {
  const { rows } = await query<{ removed_count: string }>(
    pool,
    'SELECT removed_count FROM import_jobs WHERE id = $1',
    [jobId],
  );
  return Number(rows[0]?.removed_count ?? 0);
}
