import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { config } from '../../../lib/config.ts';
import { unescapeCell } from '../../../lib/csv/spreadsheet-escape.ts';
import { exportFileLocation } from '../../../lib/export/export-file.ts';
import { exportGroup } from '../../../lib/export/export-group.ts';
import { recordGroupFailure } from '../../../lib/export/finish-export.ts';
import { USER_EXPORT_COLUMNS } from '../../../lib/export/user-columns.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { openLocalIngest } from '../../../lib/local/ingest.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import { metrics } from '../../../lib/observability/logger.ts';
import { exportDeps } from '../../../lib/runtime/export-deps.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import {
  createDomain,
  expectedMetadata,
  fileRecords,
  ingestRun,
  insertUsers,
  localExport,
  nodesOf,
  outboxRequests,
  SMALL_EXPORT_BATCHES,
  type TestUser,
} from './support.ts';

/** Values a spreadsheet would run, quotes, separators, line breaks, apostrophes, non-ASCII. */
const SPECIAL_USERS: TestUser[] = [
  {
    username: 'alice',
    display_name: 'Alice "Al", Jr.',
    gender: 'female',
    date_of_birth: '1990-02-03',
    location: 'Pune, IN',
    bio: '=HYPERLINK("http://evil.example","click")\nsecond line\r\nthird',
    smokes: false,
    drinks: true,
    wants_kids: null,
    preferred_genders: ['male', 'non-binary'],
    preferred_min_age: 25,
    preferred_max_age: 40,
    relationship_type: 'long-term',
    open_to_long_distance: true,
  },
  { username: '=cmd|" /C calc"!A0', bio: '+1 555', occupation: '-engineer', education: '@SUM(A1:A9)' },
  { username: '-bob', display_name: "'already quoted", religion: "''two", intent: '\tindented' },
  { username: "'apostrophe", location: "'plain", bio: '\rcarriage' },
  { username: 'émile 😀', display_name: 'Émile ☃', bio: 'semi;colon, comma "quote"' },
  { username: 'not-ready', bio: 'left out', ready_for_matching: false },
];

describe('user export (local, no broker: the outbox)', () => {
  const suite = localExport('user_export', { ...SMALL_EXPORT_BATCHES, EXPORT_MESSAGE_MAX_BYTES: '4096' });

  it('round trip, cost-based: the CSV.gz imports with no failure and the nodes are the exported users', async () => {
    const domainId = await createDomain(suite.pool, [['paid', true]]);
    await insertUsers(suite.pool, domainId, 'paid', SPECIAL_USERS);

    const summary = await runExportLocally({ domainId, trigger: 'test' });

    const ready = SPECIAL_USERS.filter((u) => u.ready_for_matching !== false);
    assert.equal(summary.failed, 0);
    assert.equal(summary.groups.length, 1);
    const [group] = summary.groups;
    assert.equal(group?.status, 'COMPLETED');
    assert.equal(group?.exported, ready.length);
    assert.equal(group?.messages, 1);
    assert.match(
      group?.file ?? '',
      new RegExp(`exports/users/${domainId}/paid/users_\\d{4}-\\d{2}-\\d{2}\\.csv\\.gz$`),
    );

    // Every field of the design's list is in the file, and no cell would run as a formula.
    const [header, ...records] = await fileRecords(group?.file ?? '');
    assert.deepEqual(
      header,
      USER_EXPORT_COLUMNS.map((c) => c.name),
    );
    for (const record of records) for (const cell of record) assert.doesNotMatch(cell, /^[=+\-@\t\r]/);

    const { requests, jobs } = await ingestRun(suite.home, summary.runId);
    assert.deepEqual(JSON.parse(requests[0]?.value ?? ''), {
      domainId,
      groupId: 'paid',
      filePath: group?.file,
      fileName: group?.file?.split('/').pop(),
      contentType: 'application/gzip',
      asOf: JSON.parse(requests[0]?.value ?? '{}').asOf,
    });
    // The run's time: the request's asOf, and the job's, so a replay later writes nothing over newer data.
    assert.ok(Date.parse(JSON.parse(requests[0]?.value ?? '{}').asOf) <= Date.now());
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]?.status, 'COMPLETED');
    assert.equal(jobs[0]?.total, ready.length);
    assert.equal(jobs[0]?.processed, ready.length);
    assert.deepEqual(jobs[0]?.failedList, []);
    assert.deepEqual(
      await nodesOf(suite.pool, domainId, 'paid'),
      new Map(ready.map((u) => [u.username, expectedMetadata(u, 'paid')])),
    );
  });

  it("yesterday's export replayed after today's changes nothing: its rows are counted stale", async () => {
    const domainId = await createDomain(suite.pool, [['replayed', true]]);
    const users = [{ username: 'r1' }, { username: 'r2' }, { username: 'r3' }];
    await insertUsers(suite.pool, domainId, 'replayed', users);
    const summary = await runExportLocally({ domainId, trigger: 'test' });
    const { requests, jobs } = await ingestRun(suite.home, summary.runId);
    assert.equal(jobs[0]?.processed, users.length);
    const request = requests[0]!;
    // Today's import of two of the same users, with changed metadata (as-of: its file's time, later).
    const today = join(suite.home, 'today.csv');
    await writeFile(today, 'reference_id,display_name\nr1,Today One\nr2,Today Two\n');
    const newer = await runImportLocally({
      jobId: randomUUID(),
      kind: 'nodes',
      domainId,
      groupId: 'replayed',
      source: { uri: today },
      origin: 'test',
    });
    assert.equal(newer.processed, 2);
    const before = await nodesOf(suite.pool, domainId, 'replayed');

    // The export's request delivered again as a new record (a re-send, a replay from elsewhere): a new job.
    const local = openLocalIngest(config());
    const replay = await ingestRecords(
      mskEvent([mskRecord(request.value, { topic: request.topic, offset: 900_000, key: request.key })]),
      local.deps,
    );
    assert.equal(replay.started.length, 1);
    const [replayed] = [...local.starter.finished.values()];

    assert.equal(replayed?.status, 'COMPLETED', replayed?.failureReason);
    assert.equal(replayed?.total, users.length);
    assert.equal(replayed?.stale, 2);
    assert.equal(replayed?.processed, 1);
    assert.deepEqual(await nodesOf(suite.pool, domainId, 'replayed'), before);
    assert.equal(before.get('r1')?.display_name, 'Today One');
  });

  it('round trip, not cost-based: usernames in requests under the size limit, each a valid import', async () => {
    const domainId = await createDomain(suite.pool, [['free', false]]);
    const users = Array.from({ length: 300 }, (_, i) => ({
      username: `=user ${String(i).padStart(3, '0')} "x"`,
    }));
    await insertUsers(suite.pool, domainId, 'free', users);

    const summary = await runExportLocally({ domainId, trigger: 'test' });

    assert.equal(summary.groups[0]?.status, 'COMPLETED');
    assert.equal(summary.groups[0]?.exported, 300);
    assert.equal(summary.groups[0]?.file, null);
    const { requests, jobs } = await ingestRun(suite.home, summary.runId);
    assert.ok(requests.length > 1, `${requests.length} request(s)`);
    assert.equal(summary.groups[0]?.messages, requests.length);
    for (const r of requests) assert.ok(Buffer.byteLength(r.value) <= 4096);
    assert.ok(jobs.every((j) => j.status === 'COMPLETED' && j.processed === j.total));
    assert.deepEqual(
      [...(await nodesOf(suite.pool, domainId, 'free')).keys()].sort(),
      users.map((u) => u.username).sort(),
    );
  });

  it('a scheduled time delivered twice by the scheduler is one run: one run id, each group exported once', async () => {
    const domainId = await createDomain(suite.pool, [
      ['twice-file', true],
      ['twice-names', false],
    ]);
    await insertUsers(suite.pool, domainId, 'twice-file', [{ username: 'f1' }, { username: 'f2' }]);
    await insertUsers(suite.pool, domainId, 'twice-names', [{ username: 'n1' }]);
    const delivery = { trigger: 'schedule', domainId, scheduledTime: '2031-01-02T17:50:00Z' };

    const first = await runExportLocally(delivery);
    const second = await runExportLocally(delivery);

    assert.equal(second.runId, first.runId);
    assert.deepEqual(first.groups.map((g) => [g.groupId, g.status]).sort(), [
      ['twice-file', 'COMPLETED'],
      ['twice-names', 'COMPLETED'],
    ]);
    assert.deepEqual(second.groups, []);
    const { rows } = await suite.pool.query<{ group_id: string; run_id: string }>(
      'SELECT group_id, run_id FROM export_jobs WHERE domain_id = $1 ORDER BY group_id',
      [domainId],
    );
    assert.deepEqual(
      rows.map((r) => [r.group_id, r.run_id]),
      [
        ['twice-file', first.runId],
        ['twice-names', first.runId],
      ],
    );
    assert.equal((await outboxRequests(suite.home, first.runId)).length, 2);
  });

  it('a scheduled time is a run of its own: another firing of the schedule is another run', async () => {
    const domainId = await createDomain(suite.pool, [['daily', false]]);
    await insertUsers(suite.pool, domainId, 'daily', [{ username: 'd1' }]);

    const monday = await runExportLocally({
      trigger: 'schedule',
      domainId,
      scheduledTime: '2031-01-06T17:50:00Z',
    });
    const tuesday = await runExportLocally({
      trigger: 'schedule',
      domainId,
      scheduledTime: '2031-01-07T17:50:00Z',
    });

    assert.notEqual(tuesday.runId, monday.runId);
    assert.equal(tuesday.groups.length, 1);
  });

  it('incremental by default: only users changed since the last successful export; --full: everyone', async () => {
    const domainId = await createDomain(suite.pool, [['inc', true]]);
    await insertUsers(suite.pool, domainId, 'inc', [
      { username: 'u1' },
      { username: 'u2' },
      { username: 'u3' },
    ]);
    const first = await runExportLocally({ domainId, trigger: 'test' });
    assert.equal(first.groups[0]?.exported, 3);

    await suite.pool.query(
      `UPDATE users SET bio = 'changed', updated_at = now() WHERE domain_id = $1 AND username = 'u2'`,
      [domainId],
    );
    await insertUsers(suite.pool, domainId, 'inc', [{ username: 'u4' }]);
    const second = await runExportLocally({ domainId, trigger: 'test' });
    const third = await runExportLocally({ domainId, trigger: 'test' });
    const full = await runExportLocally({ domainId, trigger: 'test', full: true });

    assert.equal(second.full, false);
    assert.equal(second.groups[0]?.exported, 2);
    assert.equal(third.groups[0]?.exported, 0);
    assert.equal(third.groups[0]?.messages, 0);
    assert.equal(full.full, true);
    assert.equal(full.groups[0]?.exported, 4);
    const [, ...records] = await fileRecords(full.groups[0]?.file ?? '');
    assert.deepEqual(
      records.map((r) => unescapeCell(r[0] ?? '')),
      ['u1', 'u2', 'u3', 'u4'],
    );
    const { rows } = await suite.pool.query(
      `SELECT full_export, changed_since IS NOT NULL AS incremental, exported, status FROM export_jobs
        WHERE domain_id = $1 ORDER BY created_at`,
      [domainId],
    );
    assert.deepEqual(rows, [
      { full_export: false, incremental: false, exported: '3', status: 'COMPLETED' },
      { full_export: false, incremental: true, exported: '2', status: 'COMPLETED' },
      { full_export: false, incremental: true, exported: '0', status: 'COMPLETED' },
      { full_export: true, incremental: false, exported: '4', status: 'COMPLETED' },
    ]);
  });

  it('a failing group is recorded FAILED and the others are exported', async () => {
    const domainId = await createDomain(suite.pool, [
      ['a-ok', true],
      ['b-broken', true, 'not a topic!'],
      ['c-ok', false],
    ]);
    for (const group of ['a-ok', 'b-broken', 'c-ok']) {
      await insertUsers(suite.pool, domainId, group, [
        { username: `${group}-1` },
        { username: `${group}-2` },
      ]);
    }

    const summary = await runExportLocally({ domainId, trigger: 'test' });

    assert.equal(summary.failed, 1);
    assert.deepEqual(
      summary.groups.map((g) => [g.groupId, g.status, g.exported]),
      [
        ['a-ok', 'COMPLETED', 2],
        ['b-broken', 'FAILED', 0],
        ['c-ok', 'COMPLETED', 2],
      ],
    );
    assert.match(summary.groups[1]?.error ?? '', /^InvalidRequestError/);
    const { rows } = await suite.pool.query(
      `SELECT e.group_id, e.status, e.error IS NOT NULL AS has_error, e.finished_at IS NOT NULL AS finished,
              g.last_exported_at IS NOT NULL AS watermark
         FROM export_jobs e JOIN matching_groups g USING (domain_id, group_id)
        WHERE e.domain_id = $1 ORDER BY e.group_id`,
      [domainId],
    );
    assert.deepEqual(rows, [
      { group_id: 'a-ok', status: 'COMPLETED', has_error: false, finished: true, watermark: true },
      { group_id: 'b-broken', status: 'FAILED', has_error: true, finished: true, watermark: false },
      { group_id: 'c-ok', status: 'COMPLETED', has_error: false, finished: true, watermark: true },
    ]);
    const { jobs } = await ingestRun(suite.home, summary.runId);
    assert.equal(jobs.length, 2);
    assert.ok(jobs.every((j) => j.status === 'COMPLETED'));
  });

  it('stops at the deadline before a batch: DeadlineExceededError, no file, no request, the cursor released', async () => {
    const domainId = await createDomain(suite.pool, [['late', true]]);
    await insertUsers(suite.pool, domainId, 'late', [
      { username: 'x1' },
      { username: 'x2' },
      { username: 'x3' },
    ]);
    const runId = '00000000-0000-4000-8000-000000000002';
    const deadline = new AbortController();
    deadline.abort(new Error('deadline'));

    await assert.rejects(
      exportGroup(
        await exportDeps(),
        {
          runId,
          full: true,
          trigger: 'test',
          date: '2026-01-02',
          group: { domainId, groupId: 'late', costBased: true, topic: null, since: null },
        },
        deadline.signal,
      ),
      { name: 'DeadlineExceededError', code: 'DEADLINE_EXCEEDED' },
    );

    const file = exportFileLocation(config(), { domainId, groupId: 'late' }, '2026-01-02').uri;
    await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.deepEqual(await outboxRequests(suite.home, runId), []);
    const { rows } = await suite.pool.query('SELECT status FROM export_jobs WHERE run_id = $1', [runId]);
    assert.deepEqual(rows, [{ status: 'PROCESSING' }]);
    const { rows: open } = await suite.pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    );
    assert.equal(open[0]?.n, 0);
  });

  it('counts a failed group in users_export_failures', async () => {
    const domainId = await createDomain(suite.pool, [['metric', true]]);
    metrics.clearMetrics();

    await recordGroupFailure(
      { pool: suite.pool },
      {
        runId: '00000000-0000-4000-8000-000000000001',
        full: false,
        trigger: 'test',
        date: '2026-01-01',
        group: { domainId, groupId: 'metric', costBased: true, topic: null, since: null },
        error: { Error: 'DatabaseUnavailableError', Cause: '{"errorMessage":"database unavailable"}' },
      },
    );

    const emf = metrics.serializeMetrics() as unknown as Record<string, unknown>;
    assert.equal(emf.users_export_failures, 1);
    metrics.clearMetrics();
    const { rows } = await suite.pool.query('SELECT status, error FROM export_jobs WHERE domain_id = $1', [
      domainId,
    ]);
    assert.deepEqual(rows, [{ status: 'FAILED', error: 'DatabaseUnavailableError: database unavailable' }]);
  });
});
