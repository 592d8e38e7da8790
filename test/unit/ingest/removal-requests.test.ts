import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNodeImportRequest, removalImportInput } from '../../../lib/ingest/import-request.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';
const JOB = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const STAGED = { uri: 's3://staging/removals.csv', count: 2 };

describe('a request of removals alone', () => {
  it('runs as a dry run when it asks for one, so its plan removes nothing', () => {
    const request = parseNodeImportRequest(
      JSON.stringify({ domainId: DOMAIN, groupId: 'g', removeReferenceIds: ['a', 'b'], dryRun: true }),
    );
    const input = removalImportInput(request, JOB, 'kafka:t/0/1', STAGED);
    assert.equal(input.dryRun, true);
    assert.equal(input.source.kind, 'removals');
    assert.deepEqual(input.removals, STAGED);
  });

  it('removes for real without dryRun, and takes no failure budget (it has no rows to fail)', () => {
    const request = parseNodeImportRequest(
      JSON.stringify({ domainId: DOMAIN, groupId: 'g', removeReferenceIds: ['a'], maxFailedRows: 3 }),
    );
    const input = removalImportInput(request, JOB, 'kafka:t/0/1', STAGED);
    assert.equal(input.dryRun, undefined);
    assert.equal(input.maxFailedRows, undefined);
  });
});
