import { randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type pg from 'pg';
import { runImportLocally } from '../../lib/local/run-import.ts';
import type { JobStatusMessage } from '../../lib/model/types.ts';

/** A pool or a client: what runs a query. */
type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.Client, 'query'>;

/** A group's nodes with their metadata, in reference order: what an import leaves behind, to compare runs. */
export async function groupState(db: Queryable, domainId: string, groupId: string): Promise<unknown[]> {
  const { rows } = await db.query(
    `SELECT n.reference_id, m.metadata FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
     WHERE n.domain_id = $1 AND n.group_id = $2 ORDER BY n.reference_id`,
    [domainId, groupId],
  );
  return rows;
}

/**
 * Resolves with the pid of a backend waiting for a lock held by `holderPid`, once one does. Its queries keep
 * the process busy meanwhile, so the wait is never cut short by an empty event loop.
 */
export async function blockedBy(db: Queryable, holderPid: number | undefined): Promise<number> {
  for (;;) {
    const { rows } = await db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1',
      [holderPid],
    );
    if (rows[0]) return rows[0].pid;
    await setImmediate();
  }
}

/** A node import of `uri` into a group, as a new job, through the synthesized state machine in-process. */
export function importNodes(domainId: string, groupId: string, uri: string): Promise<JobStatusMessage> {
  return runImportLocally({
    jobId: randomUUID(),
    kind: 'nodes',
    domainId,
    groupId,
    source: { uri },
    origin: 'test',
  });
}

/** A job's counts as its batches recorded them: what the job reports as inserted, updated, duplicates. */
export async function recordedCounts(
  db: Queryable,
  jobId: string,
): Promise<{ inserted: number; updated: number; duplicates: number }> {
  const { rows } = await db.query<{ inserted: string; updated: string; duplicates: string }>(
    `SELECT coalesce(sum(inserted), 0) AS inserted, coalesce(sum(updated), 0) AS updated,
            coalesce(sum(duplicates), 0) AS duplicates
     FROM import_job_batches WHERE job_id = $1`,
    [jobId],
  );
  const row = rows[0]!;
  return { inserted: Number(row.inserted), updated: Number(row.updated), duplicates: Number(row.duplicates) };
}
