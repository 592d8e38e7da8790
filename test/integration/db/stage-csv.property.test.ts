import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { normalizeHeaderName } from '../../../lib/csv/header.ts';
import { parseCsvRange, stageCsvRange } from '../../../lib/csv/parse-range.ts';
import { createOrClaimJob } from '../../../lib/jobs/job-repository.ts';
import type { JobRef } from '../../../lib/model/types.ts';
import { loadStagedNodes } from '../../../lib/nodes/load-nodes.ts';
import { csvStageLayout } from '../../../lib/nodes/node-repository.ts';
import { chunked, chunkSizes, csvFile, MAX_RECORD_BYTES, RAW_HEADER } from '../../support/csv-arbitraries.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = 'c0ffee00-1111-4222-8333-444455556666';
const header = RAW_HEADER.split(',').map(normalizeHeaderName);
const referenceColumn = header.indexOf('reference_id');

/**
 * The fast path hands well-formed records to COPY as raw bytes and checks references in SQL; the result in
 * the database must be what parseCsvRange (csv-parse, checks in JavaScript) says, last line winning.
 */
describe('staging CSV records for COPY', () => {
  let pool: pg.Pool;
  let close: () => Promise<void>;

  before(async () => {
    const db = await testDatabase('stage_csv');
    pool = db.pool;
    close = db.close;
  });
  after(() => close());

  it('loads exactly the rows, metadata and failed lines that parseCsvRange gives', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, chunkSizes, async ({ bytes, dataStart }, sizes) => {
        const data = bytes.subarray(dataStart);
        const options = { header, referenceColumn, firstLine: 2, maxRecordBytes: MAX_RECORD_BYTES };
        const expectedRows = new Map<string, Record<string, string>>();
        const expectedFailures: Array<[number, string]> = [];
        for await (const item of parseCsvRange(chunked(data, [data.length || 1]), options)) {
          if ('code' in item) expectedFailures.push([item.line, item.code]);
          else expectedRows.set(item.reference, item.metadata);
        }
        const job: JobRef = { jobId: randomUUID(), kind: 'nodes', domainId: DOMAIN, groupId: randomUUID() };
        await createOrClaimJob(pool, { ...job, source: 'property', origin: 'test' });

        const counts = await loadStagedNodes(
          pool,
          job,
          stageCsvRange(chunked(data, sizes), options),
          csvStageLayout(header, referenceColumn),
          { dbBatchRows: 7 },
        );

        const loaded = await pool.query<{ reference_id: string; metadata: Record<string, string> }>(
          `SELECT n.reference_id, m.metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id
           WHERE n.domain_id = $1 AND n.group_id = $2`,
          [DOMAIN, job.groupId],
        );
        assert.deepEqual(new Map(loaded.rows.map((r) => [r.reference_id, r.metadata])), expectedRows);
        const failures = await pool.query<{ line: string; code: string }>(
          'SELECT line, code FROM import_job_errors WHERE job_id = $1 ORDER BY line',
          [job.jobId],
        );
        assert.deepEqual(
          failures.rows.map((r) => [Number(r.line), r.code]),
          expectedFailures.sort((a, b) => a[0] - b[0]),
        );
        assert.equal(counts.failed, expectedFailures.length);
        assert.equal(counts.inserted, expectedRows.size);
      }),
      { numRuns: 80 },
    );
  });

  it('keeps DB batches within the requested rows even when records are short', async () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => `id-${i}`);
    const data = Buffer.from(`${ids.join('\n')}\n`);
    const job: JobRef = { jobId: randomUUID(), kind: 'nodes', domainId: DOMAIN, groupId: randomUUID() };
    await createOrClaimJob(pool, { ...job, source: 'property', origin: 'test' });
    const sizes: number[] = [];

    const counts = await loadStagedNodes(
      pool,
      job,
      stageCsvRange(chunked(data, [4096]), {
        header: ['reference_id'],
        referenceColumn: 0,
        firstLine: 2,
        maxRecordBytes: MAX_RECORD_BYTES,
        maxBlockRecords: 1000,
      }),
      csvStageLayout(['reference_id'], 0),
      { dbBatchRows: 1000, onCommitted: ({ references }) => void sizes.push(references.length) },
    );

    assert.equal(counts.inserted, 5_000);
    assert.equal(
      sizes.reduce((sum, size) => sum + size, 0),
      5_000,
    );
    assert.ok(
      sizes.every((size) => size <= 1000),
      `DB batches of ${sizes.join(', ')} rows`,
    );
    assert.ok(sizes.length <= 10, `${sizes.length} DB batches`);
  });
});
