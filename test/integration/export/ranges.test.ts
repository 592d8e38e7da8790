import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { MessagingUnavailableError } from '../../../lib/errors.ts';
import { exportGroup } from '../../../lib/export/export-group.ts';
import { exportRange, finishGroup } from '../../../lib/export/export-ranges.ts';
import type { RequestSender } from '../../../lib/export/request-sender.ts';
import type { ExportGroupInput, ExportRangeResult } from '../../../lib/export/types.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { exportDeps } from '../../../lib/runtime/export-deps.ts';
import {
  createDomain,
  expectedMetadata,
  ingestRequests,
  ingestRun,
  insertUsers,
  localExport,
  nodesOf,
  outboxRequests,
  type TestUser,
  wholeGroupCsv,
} from './support.ts';

/** Users per function forced down, so that a handful of users takes several functions. */
const ROWS_PER_FUNCTION = 3;

/** 11 ready users (four ranges of at most three), quoting and formulas among them, and one not ready. */
const USERS: TestUser[] = [
  ...Array.from({ length: 9 }, (_, i) => ({
    username: `user-${String(i).padStart(2, '0')}`,
    bio: i % 3 === 0 ? `=SUM(A${i})\nline "two", three` : `bio ${i}`,
    preferred_genders: ['female'],
    preferred_min_age: 20 + i,
  })),
  { username: '-zed', display_name: 'Zed, "Z"', occupation: "'quoted" },
  { username: 'émile 😀', display_name: 'Émile ☃' },
  { username: 'not-ready', ready_for_matching: false },
];
const READY = USERS.filter((u) => u.ready_for_matching !== false);

describe('a group too large for one function (issue 20, part 2)', () => {
  const suite = localExport('export_ranges', { EXPORT_ROWS_PER_FUNCTION: String(ROWS_PER_FUNCTION) });

  it('exports in several ranges through the local pipeline: one file, equal to one function’s, one request', async () => {
    const domainId = await createDomain(suite.pool, [['big', true]]);
    await insertUsers(suite.pool, domainId, 'big', USERS);
    const ranges: unknown[] = [];

    const summary = await runExportLocally(
      { domainId, trigger: 'test' },
      { observe: (_handler, input) => void ('range' in (input as object) && ranges.push(input)) },
    );

    assert.equal(ranges.length, Math.ceil(READY.length / ROWS_PER_FUNCTION));
    const [group] = summary.groups;
    assert.equal(summary.failed, 0);
    assert.equal(group?.status, 'COMPLETED');
    assert.equal(group?.exported, READY.length);
    assert.equal(group?.messages, 1);
    const file = gunzipSync(await readFile(group?.file ?? '')).toString('utf8');
    assert.equal(file, await wholeGroupCsv(suite.pool, domainId, 'big'));
    // The parts are gone once the file is whole.
    assert.deepEqual(
      (await readdir(dirname(group?.file ?? ''))).filter((name) => name.endsWith('.parts')),
      [],
    );
    const { rows } = await suite.pool.query(
      `SELECT status, exported::int, file_uri FROM export_jobs WHERE run_id = $1 AND domain_id = $2`,
      [summary.runId, domainId],
    );
    assert.deepEqual(rows, [{ status: 'COMPLETED', exported: READY.length, file_uri: group?.file }]);

    // The one request imports the joined file (gzip members read as one file) with no failure.
    const { requests, jobs } = await ingestRun(suite.home, summary.runId);
    assert.equal(requests.length, 1);
    const [job] = jobs;
    assert.equal(job?.status, 'COMPLETED');
    assert.equal(job?.total, READY.length);
    assert.deepEqual(
      await nodesOf(suite.pool, domainId, 'big'),
      new Map(READY.map((u) => [u.username, expectedMetadata(u, 'big')])),
    );
  });

  it('a range run again (a retry, a resumed run) overwrites its own part: no row twice', async () => {
    const domainId = await createDomain(suite.pool, [['again', true]]);
    await insertUsers(suite.pool, domainId, 'again', USERS);
    const deps = await exportDeps();
    const input: ExportGroupInput = {
      runId: '00000000-0000-4000-8000-000000000020',
      full: true,
      trigger: 'test',
      date: '2026-01-03',
      group: { domainId, groupId: 'again', costBased: true, topic: null, since: null },
    };

    const outcome = await exportGroup(deps, input);
    assert.ok('split' in outcome);
    const { split } = outcome;
    assert.equal(split.ranges.length, 4);
    const parts: ExportRangeResult[] = [];
    for (const range of split.ranges) parts.push(await exportRange(deps, { ...input, range }));
    // Range 1 again, after a user of it changed: its part is rewritten, not added to.
    await suite.pool.query(`UPDATE users SET bio = 'changed' WHERE domain_id = $1 AND username = 'user-04'`, [
      domainId,
    ]);
    parts[1] = await exportRange(deps, { ...input, range: split.ranges[1]! });
    assert.deepEqual(
      parts.map((p) => p.rows),
      [3, 3, 3, 2],
    );

    const result = await finishGroup(deps, { ...input, split, parts });
    assert.ok('status' in result);
    assert.equal(result.exported, READY.length);
    const file = gunzipSync(await readFile(result.file ?? '')).toString('utf8');
    assert.equal(file, await wholeGroupCsv(suite.pool, domainId, 'again'));
    assert.equal(file.split('\n').filter((line) => line.startsWith('user-04,')).length, 1);
    assert.equal((await outboxRequests(suite.home, input.runId)).length, 1);
  });

  /** The part folders left beside a group's file. */
  const partsLeft = async (file: string | null) =>
    (await readdir(dirname(file ?? ''))).filter((name) => name.endsWith('.parts')).length;

  /** A group cut into ranges with every range's part written: the finish's input. */
  async function rangesWritten(groupId: string, runId: string) {
    const domainId = await createDomain(suite.pool, [[groupId, true]]);
    await insertUsers(suite.pool, domainId, groupId, USERS);
    const deps = await exportDeps();
    const input: ExportGroupInput = {
      runId,
      full: true,
      trigger: 'test',
      date: '2026-01-04',
      group: { domainId, groupId, costBased: true, topic: null, since: null },
    };
    const outcome = await exportGroup(deps, input);
    assert.ok('split' in outcome);
    const parts: ExportRangeResult[] = [];
    for (const range of outcome.split.ranges) parts.push(await exportRange(deps, { ...input, range }));
    return { deps, domainId, finish: { ...input, split: outcome.split, parts } };
  }

  it('FinishGroup retried after it deleted the parts returns the same file and sends nothing more', async () => {
    const { deps, domainId, finish } = await rangesWritten(
      'finished',
      '00000000-0000-4000-8000-000000000021',
    );
    const first = await finishGroup(deps, finish);
    assert.ok('status' in first);
    assert.equal(await partsLeft(first.file), 0);

    // A retry of the step (the Lambda timed out after the run was recorded).
    const again = await finishGroup(deps, finish);

    assert.ok('status' in again);
    // The same result, but for `removed`, which the run's record does not keep.
    const { removed: _removed, ...recorded } = first;
    assert.deepEqual(again, recorded);
    assert.equal(
      gunzipSync(await readFile(again.file ?? '')).toString('utf8'),
      await wholeGroupCsv(suite.pool, domainId, 'finished'),
    );
    assert.equal((await outboxRequests(suite.home, finish.runId)).length, 1);
  });

  it('FinishGroup retried after the file was joined but its request not sent sends it once', async () => {
    const { deps, domainId, finish } = await rangesWritten('unsent', '00000000-0000-4000-8000-000000000022');
    const down: RequestSender = {
      kind: 'kafka',
      send: async () => {
        throw new MessagingUnavailableError('broker down', {});
      },
      close: async () => {},
    };
    await assert.rejects(finishGroup({ ...deps, sender: down }, finish), {
      name: 'MessagingUnavailableError',
    });

    const result = await finishGroup(deps, finish);

    assert.ok('status' in result);
    assert.equal(result.exported, READY.length);
    assert.equal(
      gunzipSync(await readFile(result.file ?? '')).toString('utf8'),
      await wholeGroupCsv(suite.pool, domainId, 'unsent'),
    );
    assert.equal((await outboxRequests(suite.home, finish.runId)).length, 1);
    assert.equal(await partsLeft(result.file), 0);
  });

  it('FinishGroup retried after its request was sent but before the run was recorded: one import job', async () => {
    const { deps, finish } = await rangesWritten('resent', '00000000-0000-4000-8000-000000000023');
    // The request goes out, then the attempt dies before it records the run.
    const crashAfterSend: RequestSender = {
      ...deps.sender,
      send: async (request) => {
        await deps.sender.send(request);
        throw new Error('attempt died after sending');
      },
    };
    await assert.rejects(finishGroup({ ...deps, sender: crashAfterSend }, finish), /died after sending/);

    await finishGroup(deps, finish);

    // Sent twice with one idempotency key: the ingest starts one job and counts the other a duplicate.
    const requests = await outboxRequests(suite.home, finish.runId);
    assert.equal(new Set(requests.map((r) => r.headers['idempotency-key'])).size, 1);
    const { outcome } = await ingestRequests(requests);
    assert.equal(outcome.started.length, 1);
    assert.equal(outcome.duplicates, 1);
  });
});
