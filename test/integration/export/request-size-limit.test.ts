import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { IMPORT_REQUEST_MAX_BYTES } from '../../../lib/settings.ts';
import { createDomain, ingestRun, localExport } from './support.ts';

const USERS = 50_000;

// Regression: the export split usernames into requests of up to 900,000 bytes and ingest dead-lettered
// everything over 256 KiB, so a large group that is not cost-based never imported.
describe('user export of a large group at the default request size limit', { timeout: 600_000 }, () => {
  // No export settings: the default request size limit is what is under test.
  const suite = localExport('export_limit');

  it(`${USERS} usernames: every request within the shared limit is taken by ingest and imported`, async () => {
    const domainId = await createDomain(suite.pool, [['large', false]]);
    await suite.pool.query(
      `INSERT INTO users (domain_id, group_id, username, ready_for_matching)
       SELECT $1, 'large', 'member-' || lpad(i::text, 6, '0') || '-' || md5(i::text), true
         FROM generate_series(1, $2::int) AS i`,
      [domainId, USERS],
    );

    const summary = await runExportLocally({ domainId, trigger: 'test' });
    const { requests, jobs } = await ingestRun(suite.home, summary.runId);

    assert.equal(summary.groups[0]?.exported, USERS);
    assert.ok(requests.length > 1, `${requests.length} request(s)`);
    for (const r of requests) assert.ok(Buffer.byteLength(r.value) <= IMPORT_REQUEST_MAX_BYTES);
    assert.ok(jobs.every((j) => j.status === 'COMPLETED'));
    const { rows } = await suite.pool.query<{ count: string }>(
      `SELECT count(*) FROM nodes WHERE domain_id = $1 AND group_id = 'large'`,
      [domainId],
    );
    assert.equal(Number(rows[0]?.count), USERS);
  });
});
