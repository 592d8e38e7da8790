import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import {
  createDomain,
  ingestRun,
  insertUsers,
  localExport,
  nodesOf,
  SMALL_EXPORT_BATCHES,
} from './support.ts';

describe('removal through the export (local, the outbox fed to ingest)', () => {
  const suite = localExport('export_removals', { ...SMALL_EXPORT_BATCHES, EXPORT_MESSAGE_MAX_BYTES: '1024' });

  /** Runs an export of the domain and feeds its requests through the local ingest, as Kafka would. */
  async function exportAndImport(domainId: string) {
    const summary = await runExportLocally({ domainId, trigger: 'test' });
    assert.equal(summary.failed, 0);
    const { requests, jobs } = await ingestRun(suite.home, summary.runId);
    const values = requests.map((r) => JSON.parse(r.value) as Record<string, unknown>);
    return { summary, values, jobs };
  }

  async function suggestions(domainId: string, groupId: string): Promise<string[]> {
    const { rows } = await suite.pool.query<{ pair: string }>(
      `SELECT participant_id || '>' || matched_participant_id AS pair FROM match_suggestions
        WHERE domain_id = $1 AND group_id = $2 ORDER BY 1`,
      [domainId, groupId],
    );
    return rows.map((r) => r.pair);
  }

  async function suggest(domainId: string, groupId: string, pairs: ReadonlyArray<readonly [string, string]>) {
    for (const [from, to] of pairs) {
      await suite.pool.query(
        `INSERT INTO match_suggestions (domain_id, group_id, participant_id, matched_participant_id, compatibility_score)
         VALUES ($1, $2, $3, $4, 0.5)`,
        [domainId, groupId, from, to],
      );
    }
  }

  async function metadataRows(domainId: string): Promise<number> {
    const { rows } = await suite.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM node_metadata WHERE domain_id = $1',
      [domainId],
    );
    return Number(rows[0]?.n);
  }

  it('not cost-based: members set not ready or deleted leave the nodes and their match suggestions', async () => {
    const domainId = await createDomain(suite.pool, [['free', false]]);
    // Long names, so that the removals need more than one request of 1 KiB.
    const name = (i: number) => `member-${String(i).padStart(2, '0')}-${'x'.repeat(100)}`;
    const names = Array.from({ length: 30 }, (_, i) => name(i));
    await insertUsers(
      suite.pool,
      domainId,
      'free',
      names.map((username) => ({ username })),
    );
    await exportAndImport(domainId);
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'free')).keys()].sort(), names);
    await suggest(domainId, 'free', [
      [name(0), name(1)],
      [name(1), name(2)],
      [name(3), name(0)],
      [name(4), name(5)],
    ]);

    // member-00 and the 10 from member-10 are no longer ready; member-02 is deleted; member-05 goes and comes back.
    const unready = [name(0), ...names.slice(10, 20)];
    await suite.pool.query(
      `UPDATE users SET ready_for_matching = false, updated_at = now()
        WHERE domain_id = $1 AND username = ANY($2::text[])`,
      [domainId, unready],
    );
    await suite.pool.query('DELETE FROM users WHERE domain_id = $1 AND username = $2', [domainId, name(2)]);
    await suite.pool.query(
      `UPDATE users SET ready_for_matching = false WHERE domain_id = $1 AND username = $2`,
      [domainId, name(5)],
    );
    await suite.pool.query(
      `UPDATE users SET ready_for_matching = true, updated_at = now() WHERE domain_id = $1 AND username = $2`,
      [domainId, name(5)],
    );

    const { summary, values, jobs } = await exportAndImport(domainId);

    const gone = [...unready, name(2)].sort();
    const left = names.filter((n) => !gone.includes(n));
    assert.equal(summary.groups[0]?.removed, gone.length);
    const sentRemovals = values.flatMap((v) => (v.removedUsernames as string[] | undefined) ?? []);
    assert.deepEqual(sentRemovals.sort(), gone);
    assert.ok(
      values.filter((v) => v.removedUsernames).length > 1,
      'the removals were split under the size limit',
    );
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'free')).keys()].sort(), left);
    assert.deepEqual(await suggestions(domainId, 'free'), [`${name(4)}>${name(5)}`]);
    assert.ok(jobs.every((j) => j.status === 'COMPLETED'));
    const removed = jobs.reduce((sum, j) => sum + (j.removed ?? 0), 0);
    assert.equal(removed, gone.length);

    // Nothing changed since: the next export removes nothing more.
    const again = await exportAndImport(domainId);
    assert.equal(again.summary.groups[0]?.removed, 0);
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'free')).keys()].sort(), left);
  });

  it('cost-based: the removals ride in the file request, and a run with only removals sends them alone', async () => {
    const domainId = await createDomain(suite.pool, [['paid', true]]);
    await insertUsers(suite.pool, domainId, 'paid', [
      { username: 'ann' },
      { username: 'bea' },
      { username: 'cid' },
    ]);
    await exportAndImport(domainId);
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'paid')).keys()].sort(), ['ann', 'bea', 'cid']);

    await suite.pool.query(
      `UPDATE users SET ready_for_matching = false, updated_at = now() WHERE domain_id = $1 AND username = 'bea'`,
      [domainId],
    );
    await insertUsers(suite.pool, domainId, 'paid', [{ username: 'dan' }]);
    const withFile = await exportAndImport(domainId);
    assert.equal(withFile.values.length, 1);
    assert.equal(typeof withFile.values[0]?.filePath, 'string');
    assert.deepEqual(withFile.values[0]?.removedUsernames, ['bea']);
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'paid')).keys()].sort(), ['ann', 'cid', 'dan']);
    assert.equal(await metadataRows(domainId), 3, "the removed node's metadata went with it");
    assert.equal(withFile.jobs[0]?.status, 'COMPLETED');
    assert.equal(withFile.jobs[0]?.total, 1);
    assert.equal(withFile.jobs[0]?.removed, 1);

    await suite.pool.query(`DELETE FROM users WHERE domain_id = $1 AND username = 'cid'`, [domainId]);
    const alone = await exportAndImport(domainId);
    const asOf = alone.values[0]?.asOf;
    assert.equal(typeof asOf, 'string', 'removals carry the run time as their asOf');
    assert.deepEqual(alone.values, [{ domainId, groupId: 'paid', asOf, removedUsernames: ['cid'] }]);
    assert.equal(alone.summary.groups[0]?.file, null);
    assert.deepEqual([...(await nodesOf(suite.pool, domainId, 'paid')).keys()].sort(), ['ann', 'dan']);
    assert.equal(alone.jobs[0]?.status, 'COMPLETED');
    assert.equal(alone.jobs[0]?.total, 0);
    assert.equal(alone.jobs[0]?.removed, 1);
  });
});
