import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImportJobRow } from '../../../lib/jobs/job-repository.ts';
import { resumeInput } from '../../../lib/jobs/resume.ts';

const ID = '0b8f6a52-2f7e-4c1d-9a3b-6e5d4c3b2a10';

function row(overrides: Partial<ImportJobRow>): ImportJobRow {
  const at = new Date('2026-11-22T04:00:00Z');
  return {
    id: ID,
    jobId: ID,
    kind: 'nodes',
    domainId: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    groupId: 'g1',
    status: 'PROCESSING',
    total: 0,
    processed: 0,
    successCount: 0,
    failedCount: 0,
    duplicateCount: 0,
    staleCount: 0,
    asOf: null,
    failureReason: null,
    source: 's3://bucket/incoming/nodes/x.csv',
    origin: 'cli',
    executionId: null,
    successListUri: null,
    failedListUri: null,
    dryRun: false,
    createdAt: at,
    startedAt: at,
    finishedAt: null,
    updatedAt: at,
    ...overrides,
  };
}

describe('a resumed dry run', () => {
  it('stays a dry run', () => {
    assert.equal(resumeInput(row({ dryRun: true }), 'staging/x').dryRun, true);
    assert.equal(resumeInput(row({}), 'staging/x').dryRun, undefined);
  });
});

describe('resumeInput', () => {
  it('runs an unfinished pipeline job again under its own id', () => {
    const input = resumeInput(row({}), 's3://bucket/staging/refs');
    assert.equal(input.jobId, ID);
    assert.deepEqual(input.source, { uri: 's3://bucket/incoming/nodes/x.csv' });
  });

  it('runs a job of removals alone as removals again, never as a file of references to load', () => {
    const removals = { uri: 's3://bucket/staging/x/removals.csv' };
    const input = resumeInput(
      row({ source: removals.uri }),
      's3://bucket/staging/x/references.csv',
      removals,
    );
    assert.deepEqual(input.source, { uri: removals.uri, kind: 'removals' });
    assert.deepEqual(input.removals, removals);
  });

  it('carries the removals of a file job it resumes', () => {
    const removals = { uri: 's3://bucket/staging/x/removals.csv' };
    const input = resumeInput(row({}), 's3://bucket/staging/x/references.csv', removals);
    assert.deepEqual(input.source, { uri: 's3://bucket/incoming/nodes/x.csv' });
    assert.deepEqual(input.removals, removals);
  });

  it('refuses a job the bulk API accepted: its source is not what the state machine reads', () => {
    assert.throws(
      () => resumeInput(row({ origin: 'api', source: 's3://bucket/api/uploads/x.ndjson' }), 'unused'),
      (error: Error & { code?: string }) => error.code === 'NOT_RESUMABLE',
    );
  });

  it('refuses an erasure: its row does not say whether every group was asked for', () => {
    assert.throws(
      () => resumeInput(row({ kind: 'erasure', groupId: '*', origin: 'cli' }), 'unused'),
      (error: Error & { code?: string }) => error.code === 'NOT_RESUMABLE',
    );
  });
});
