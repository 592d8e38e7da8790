import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { erasureInput } from '../../../lib/erasure/erasure-request.ts';
import { referenceListUri, writeReferenceList } from '../../../lib/jobs/reference-list.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { localPipeline } from '../../support/local-pipeline.ts';
import { seedDomain, tracesOf } from './support.ts';

const DOMAIN = '5a0f7e3c-2b1d-4c9e-8f6a-7d3c2b1a0e9f';
const OTHER = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';
const ERASED = ['alice', 'bob'];

describe('erasure through the synthesized state machine, locally', () => {
  const suite = localPipeline('erasure', { REFERENCE_BATCH_ROWS: '1' });

  const erase = async (ids: string[], groupId?: string): Promise<JobStatusMessage> => {
    const { store, config } = await runtimeDeps();
    const jobId = randomUUID();
    const staged = await writeReferenceList(store, referenceListUri(config, jobId), ids);
    return runImportLocally(erasureInput({ domainId: DOMAIN, groupId }, jobId, 'test', staged.uri));
  };
  const count = async (sql: string, params: unknown[]): Promise<number> =>
    Number((await suite.pool.query<{ n: string }>(sql, params)).rows[0]?.n);

  it('removes every trace of the references in the domain, and only there', async () => {
    const seeded = await seedDomain(suite, DOMAIN, ['g1', 'g2']);
    await seedDomain(suite, OTHER, ['g1']);
    assert.ok((await tracesOf(suite.pool, DOMAIN, ERASED)).length > 0, 'the seed holds the references');
    const otherBefore = await tracesOf(suite.pool, OTHER, ERASED);

    const message = await erase(ERASED);

    assert.equal(message.status, 'COMPLETED', message.failureReason);
    assert.equal(message.kind, 'erasure');
    assert.equal(message.total, 2);
    assert.equal(message.processed, 2);
    assert.deepEqual([message.successList, message.failedList], [[], []]);
    assert.deepEqual(await tracesOf(suite.pool, DOMAIN, ERASED), []);
    // The other domain's identical references are untouched.
    assert.deepEqual(await tracesOf(suite.pool, OTHER, ERASED), otherBefore);
    assert.equal(
      await count(`SELECT count(*) AS n FROM nodes WHERE domain_id = $1 AND reference_id = ANY($2)`, [
        OTHER,
        ERASED,
      ]),
      2,
    );
    assert.equal(await count(`SELECT count(*) AS n FROM match_suggestions WHERE domain_id = $1`, [OTHER]), 4);
    // Suggestions between two other members are kept, and so are the other members.
    assert.equal(
      await count(
        `SELECT count(*) AS n FROM match_suggestions
         WHERE domain_id = $1 AND participant_id = 'carol' AND matched_participant_id = 'dave'`,
        [DOMAIN],
      ),
      2,
    );
    assert.equal(await count(`SELECT count(*) AS n FROM nodes WHERE domain_id = $1`, [DOMAIN]), 4);
    // The success list of the import was rewritten without the erased ids; the other members stay in it.
    const report = await readFile(seeded.successListUri, 'utf8');
    assert.deepEqual(report.trim().split('\n').sort(), ['carol', 'dave', 'reference_id']);
    // The import's staged copies are gone.
    assert.equal(existsSync(seeded.stagedFolder), false);
  });

  it('keeps a record of the erasure with counts per table and who asked, and no reference', async () => {
    const record = await suite.pool.query(
      `SELECT * FROM erasures WHERE domain_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [DOMAIN],
    );
    const row = record.rows[0];
    assert.equal(row.status, 'COMPLETED');
    assert.equal(row.requested_by, 'test');
    assert.equal(row.group_id, null);
    assert.equal(Number(row.requested_count), 2);
    // Seeded per group: alice and bob as nodes (with metadata) and users; in each group 3 suggestions name
    // alice or bob (alice→bob, bob→alice, carol→alice); one failed row names alice. Each group's status
    // message names both, and is rewritten once per transaction that erases one of them (one id each here).
    assert.deepEqual(row.counts, {
      nodes: 4,
      node_metadata: 4,
      match_suggestions: 6,
      users: 4,
      // The tombstones deleting those ready users left behind.
      user_removals: 4,
      import_job_errors: 2,
      job_status_events: 4,
    });
    assert.ok(row.objects.rewritten >= 2, JSON.stringify(row.objects));
    assert.equal(await count(`SELECT count(*) AS n FROM erasure_references`, []), 0);
  });

  it('erases in one group only when a group is given', async () => {
    const message = await erase(['carol'], 'g1');

    assert.equal(message.status, 'COMPLETED');
    assert.deepEqual(
      (
        await suite.pool.query(`SELECT group_id FROM nodes WHERE domain_id = $1 AND reference_id = 'carol'`, [
          DOMAIN,
        ])
      ).rows,
      [{ group_id: 'g2' }],
    );
  });

  it('fails the job for ids that cannot be references, erasing the others', async () => {
    const message = await erase(['dave', 'x'.repeat(300)], 'g2');

    assert.equal(message.status, 'FAILED');
    assert.equal(message.processed, 1);
    assert.equal(
      await count(
        `SELECT count(*) AS n FROM nodes WHERE domain_id = $1 AND group_id = 'g2' AND reference_id = 'dave'`,
        [DOMAIN],
      ),
      0,
    );
  });
});
