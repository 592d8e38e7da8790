import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { NUL_CHARACTER, type ParsedRow } from '../../../lib/csv/parse-range.ts';
import { createOrClaimJob } from '../../../lib/jobs/job-repository.ts';
import type { JobRef, LoadCounts, RowRejection } from '../../../lib/model/types.ts';
import { type CommittedChunk, loadNodes } from '../../../lib/nodes/load-nodes.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';

const SUITE = 'load_nodes';
const DOMAIN = randomUUID();

function row(
  line: number,
  reference: string,
  metadata: Record<string, string> = { line: String(line) },
): ParsedRow {
  return { line, reference, metadata };
}

function rejection(line: number, reference: string | null, code = 'FIELD_COUNT'): RowRejection {
  return { line, reference, code, reason: `bad row at line ${line}` };
}

async function* source<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

interface NodeState {
  id: string;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

describe('loadNodes', () => {
  let db: TestDatabase;

  before(async () => {
    db = await testDatabase(SUITE);
  });

  after(async () => {
    await db.close();
  });

  /** A claimed job in a group of its own, so that tests do not see each other's nodes. */
  async function newJob(groupId = `g-${randomUUID()}`): Promise<JobRef> {
    const job: JobRef = { jobId: randomUUID(), kind: 'nodes', domainId: DOMAIN, groupId };
    await createOrClaimJob(db.pool, { ...job, source: 's3://bucket/nodes.csv', origin: 'test' });
    return job;
  }

  async function load(
    job: JobRef,
    items: Iterable<ParsedRow | RowRejection>,
    dbBatchRows = 1000,
    signal?: AbortSignal,
  ): Promise<{ counts: LoadCounts; chunks: CommittedChunk[] }> {
    const chunks: CommittedChunk[] = [];
    const counts = await loadNodes(db.pool, job, source(items), {
      dbBatchRows,
      ...(signal ? { signal } : {}),
      onCommitted: (chunk) => {
        chunks.push(chunk);
      },
    });
    return { counts, chunks };
  }

  async function nodesOf(groupId: string): Promise<Map<string, NodeState>> {
    const { rows } = await db.pool.query<{
      reference_id: string;
      id: string;
      metadata: Record<string, string>;
      created_at: Date;
      updated_at: Date;
    }>(
      `SELECT n.reference_id, n.id, m.metadata, n.created_at, n.updated_at
       FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = $2`,
      [DOMAIN, groupId],
    );
    return new Map(
      rows.map((r) => [
        r.reference_id,
        { id: r.id, metadata: r.metadata, createdAt: r.created_at, updatedAt: r.updated_at },
      ]),
    );
  }

  it('inserts nodes with their metadata, whatever characters they hold', async () => {
    const job = await newJob();
    const awkward = 'tab\there, newline\nhere, cr\rhere, backslash\\here, quote"here, comma,here, 🎉 ünïcödé';
    const rows = [
      row(2, 'plain', { city: 'Pune', age: '31' }),
      row(3, 'with\ttab', { note: awkward }),
      row(4, 'with\\backslash', { 'key with "quotes"': 'value\\with\\backslashes' }),
      row(5, 'with\nnewline', {}),
      row(6, 'ünïcödé-🎉', { bio: '\\N is not null here' }),
    ];

    const { counts, chunks } = await load(job, rows, 2);

    assert.deepEqual(counts, { rows: 5, inserted: 5, updated: 0, duplicates: 0, failed: 0, stale: 0 });
    const nodes = await nodesOf(job.groupId);
    assert.equal(nodes.size, 5);
    for (const r of rows) assert.deepEqual(nodes.get(r.reference)?.metadata, r.metadata, r.reference);
    assert.equal(chunks.length, 3);
    for (const chunk of chunks) assert.deepEqual(chunk.references, [...chunk.references].sort());
    assert.deepEqual(chunks.flatMap((c) => c.references).sort(), rows.map((r) => r.reference).sort());
  });

  it('re-importing the same rows changes nothing but updated_at', async () => {
    const first = await newJob();
    const rows = Array.from({ length: 50 }, (_, i) =>
      row(i + 2, `ref-${i}`, { n: String(i), city: 'Delhi' }),
    );
    await load(first, rows, 20);
    const before = await nodesOf(first.groupId);
    const second = await newJob(first.groupId);

    const { counts, chunks } = await load(second, rows, 20);

    assert.deepEqual(counts, { rows: 50, inserted: 0, updated: 50, duplicates: 0, failed: 0, stale: 0 });
    assert.equal(chunks.flatMap((c) => c.references).length, 50);
    const after = await nodesOf(first.groupId);
    assert.equal(after.size, 50);
    for (const [reference, was] of before) {
      const now = after.get(reference);
      assert.ok(now, reference);
      assert.equal(now.id, was.id);
      assert.deepEqual(now.metadata, was.metadata);
      assert.equal(now.createdAt.getTime(), was.createdAt.getTime());
      assert.ok(now.updatedAt.getTime() > was.updatedAt.getTime(), `updated_at of ${reference} moved`);
    }
  });

  it('replaces the metadata of an existing node', async () => {
    const first = await newJob();
    await load(first, [row(2, 'a', { city: 'Pune' })]);
    const second = await newJob(first.groupId);

    const { counts } = await load(second, [row(2, 'a', { city: 'Mumbai', age: '40' })]);

    assert.deepEqual(counts, { rows: 1, inserted: 0, updated: 1, duplicates: 0, failed: 0, stale: 0 });
    assert.deepEqual((await nodesOf(first.groupId)).get('a')?.metadata, { city: 'Mumbai', age: '40' });
  });

  it('a DB batch of new references meeting one that exists is upserted whole: nothing of the first try stays', async () => {
    const first = await newJob();
    await load(first, [row(2, 'b', { city: 'Pune' })]);
    const [existing] = (await nodesOf(first.groupId)).values();
    const second = await newJob(first.groupId);

    const { counts, chunks } = await load(second, [
      row(2, 'a', { city: 'Goa' }),
      row(3, 'b', { city: 'Agra' }),
      row(4, 'c', { city: 'Ooty' }),
    ]);

    assert.deepEqual(counts, { rows: 3, inserted: 2, updated: 1, duplicates: 0, failed: 0, stale: 0 });
    const nodes = await nodesOf(first.groupId);
    assert.deepEqual([...nodes].map(([reference, node]) => [reference, node.metadata]).sort(), [
      ['a', { city: 'Goa' }],
      ['b', { city: 'Agra' }],
      ['c', { city: 'Ooty' }],
    ]);
    assert.equal(nodes.get('b')?.id, existing?.id);
    const { rows } = await db.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM node_metadata m JOIN nodes n ON n.id = m.node_id WHERE n.group_id = $1',
      [first.groupId],
    );
    assert.equal(Number(rows[0]?.n), 3);
    assert.deepEqual(chunks[0]?.references, ['a', 'b', 'c']);
  });

  it('keeps the last line of a reference repeated inside one DB batch, counted once', async () => {
    const job = await newJob();

    const { counts, chunks } = await load(job, [row(2, 'a'), row(3, 'b'), row(4, 'a'), row(5, 'a')]);

    assert.deepEqual(counts, { rows: 4, inserted: 2, updated: 0, duplicates: 2, failed: 0, stale: 0 });
    assert.deepEqual((await nodesOf(job.groupId)).get('a')?.metadata, { line: '5' });
    assert.deepEqual(chunks[0]?.references, ['a', 'b']);
  });

  it('keeps the last line of a reference repeated across DB batches, counted once', async () => {
    const job = await newJob();

    const { counts, chunks } = await load(job, [row(2, 'a'), row(3, 'b'), row(4, 'c'), row(5, 'a')], 2);

    assert.deepEqual(counts, { rows: 4, inserted: 3, updated: 0, duplicates: 1, failed: 0, stale: 0 });
    assert.deepEqual((await nodesOf(job.groupId)).get('a')?.metadata, { line: '5' });
    assert.deepEqual(
      chunks.map((c) => c.references),
      [['a', 'b'], ['c']],
    );
  });

  describe('two loads of one job with overlapping references', () => {
    // Part A holds lines 2..101 (refs r000..r099); part B lines 1000..1099 (refs r050..r149): B is later.
    const ref = (i: number) => `r${String(i).padStart(3, '0')}`;
    const partA = Array.from({ length: 100 }, (_, i) => row(2 + i, ref(i), { part: 'A' }));
    const partB = Array.from({ length: 100 }, (_, i) => row(1000 + i, ref(50 + i), { part: 'B' }));

    async function assertLastLineWins(
      job: JobRef,
      results: Array<{ counts: LoadCounts; chunks: CommittedChunk[] }>,
    ) {
      const nodes = await nodesOf(job.groupId);
      assert.equal(nodes.size, 150);
      for (let i = 0; i < 150; i += 1) {
        assert.deepEqual(nodes.get(ref(i))?.metadata, { part: i < 50 ? 'A' : 'B' }, ref(i));
      }
      const total = (key: keyof LoadCounts) => results.reduce((sum, r) => sum + r.counts[key], 0);
      assert.equal(total('inserted') + total('updated'), 150);
      assert.equal(total('duplicates'), 50);
      assert.equal(total('rows'), 200);
      const written = results.flatMap((r) => r.chunks.flatMap((c) => c.references)).sort();
      assert.deepEqual(
        written,
        Array.from({ length: 150 }, (_, i) => ref(i)),
      );
    }

    it('earlier part first', async () => {
      const job = await newJob();
      const a = await load(job, partA, 30);
      const b = await load(job, partB, 30);
      await assertLastLineWins(job, [a, b]);
    });

    it('later part first', async () => {
      const job = await newJob();
      const b = await load(job, partB, 30);
      const a = await load(job, partA, 30);
      await assertLastLineWins(job, [a, b]);
    });

    it("never counts a job's rows stale to each other, whatever as-of each load read", async () => {
      // A job row without an as-of gives each statement its own time, and a statement that waited for a row
      // lock may hold an older one than the load that wrote the row: the later part, loaded with the older
      // time, must still win by its lines, counted once, never as stale.
      const job = await newJob();
      const asOf = (at: string) =>
        db.pool.query('UPDATE import_jobs SET as_of = $2 WHERE id = $1', [job.jobId, at]);
      await asOf('2026-12-02T00:00:00Z');
      const a = await load(job, partA, 30);
      await asOf('2026-12-01T00:00:00Z');
      const b = await load(job, partB, 30);
      assert.equal(a.counts.stale + b.counts.stale, 0);
      await assertLastLineWins(job, [a, b]);
    });

    it('both at once', async () => {
      const job = await newJob();
      const results = await Promise.all([load(job, partA, 7), load(job, partB, 7)]);
      await assertLastLineWins(job, results);
    });

    it('re-running a part after both is idempotent', async () => {
      const job = await newJob();
      const a = await load(job, partA, 30);
      const b = await load(job, partB, 30);

      const againB = await load(job, partB, 30);

      await assertLastLineWins(job, [a, b]);
      assert.equal(againB.counts.inserted, 0);
      const nodes = await nodesOf(job.groupId);
      assert.deepEqual(nodes.get(ref(60))?.metadata, { part: 'B' });
    });

    it('a part stopped midway, run again after the other: each reference listed once, counted once', async () => {
      const job = await newJob();
      const batchA = { index: 0, key: 'A' };
      const batchB = { index: 1, key: 'B' };
      const run = async (items: AsyncIterable<ParsedRow>, batch: typeof batchA) => {
        const chunks: CommittedChunk[] = [];
        const counts = await loadNodes(db.pool, job, items, {
          dbBatchRows: 30,
          batch,
          onCommitted: (chunk) => {
            chunks.push(chunk);
          },
        });
        return { counts, chunks };
      };
      // A commits its first two DB batches (r000..r059), then fails; its success list is dropped with it.
      async function* stoppedA(): AsyncGenerator<ParsedRow> {
        yield* partA.slice(0, 60);
        throw new Error('source failed');
      }
      await assert.rejects(run(stoppedA(), batchA), /source failed/);
      // B's later lines win r050..r059, which A had listed: A run again must still list them.
      const b = await run(source(partB), batchB);
      const againA = await run(source(partA), batchA);

      await assertLastLineWins(job, [againA, b]);
      const total = (key: keyof LoadCounts) => againA.counts[key] + b.counts[key];
      assert.deepEqual([total('inserted'), total('updated')], [150, 0]);
    });
  });

  it('records rejections once, even when the same batch is loaded twice', async () => {
    const job = await newJob();
    const items = [row(2, 'a'), rejection(3, 'b'), rejection(4, null, 'MISSING_REFERENCE'), row(5, 'c')];

    const first = await load(job, items);
    const second = await load(job, items);

    assert.deepEqual(first.counts, { rows: 2, inserted: 2, updated: 0, duplicates: 0, failed: 2, stale: 0 });
    assert.equal(second.counts.failed, 2);
    assert.deepEqual(
      first.chunks.flatMap((c) => c.rejections.map((r) => r.line)),
      [3, 4],
    );
    const { rows } = await db.pool.query<{ line: string; reference: string | null; code: string }>(
      'SELECT line, reference, code FROM import_job_errors WHERE job_id = $1 ORDER BY line',
      [job.jobId],
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.line), r.reference, r.code]),
      [
        [3, 'b', 'FIELD_COUNT'],
        [4, null, 'MISSING_REFERENCE'],
      ],
    );
  });

  it('rejects a row holding a NUL character instead of failing its batch', async () => {
    const job = await newJob();

    const { counts, chunks } = await load(job, [
      row(2, 'ok'),
      row(3, 'bad', { note: 'a\0b' }),
      row(4, 'n\0ul'),
    ]);

    assert.deepEqual(counts, { rows: 1, inserted: 1, updated: 0, duplicates: 0, failed: 2, stale: 0 });
    assert.deepEqual(
      chunks[0]?.rejections.map((r) => [r.line, r.code]),
      [
        [3, NUL_CHARACTER],
        [4, NUL_CHARACTER],
      ],
    );
    assert.deepEqual([...(await nodesOf(job.groupId)).keys()], ['ok']);
  });

  it('loads nothing and throws DeadlineExceededError when the signal is already aborted', async () => {
    const job = await newJob();

    await assert.rejects(load(job, [row(2, 'a')], 10, AbortSignal.abort()), {
      name: 'DeadlineExceededError',
    });

    assert.equal((await nodesOf(job.groupId)).size, 0);
  });

  it('stops with DeadlineExceededError when aborted while its source is stalled', async () => {
    const job = await newJob();
    const controller = new AbortController();
    async function* stalled(): AsyncGenerator<ParsedRow> {
      yield row(2, 'a');
      controller.abort();
      await new Promise(() => {});
    }

    await assert.rejects(loadNodes(db.pool, job, stalled(), { dbBatchRows: 10, signal: controller.signal }), {
      name: 'DeadlineExceededError',
    });

    assert.equal((await nodesOf(job.groupId)).size, 0);
  });

  describe('while a DB batch waits on a locked node', () => {
    let blocker: pg.Client;

    before(async () => {
      blocker = new pg.Client({ connectionString: db.url, application_name: 'mb-test-blocker' });
      await blocker.connect();
    });

    after(async () => {
      await blocker.end();
    });

    /** Commits node `locked` in a fresh group, then holds its row lock from another session. */
    async function lockedGroup(): Promise<string> {
      const setup = await newJob();
      await load(setup, [row(2, 'locked')]);
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM nodes WHERE domain_id = $1 AND group_id = $2 FOR UPDATE', [
        DOMAIN,
        setup.groupId,
      ]);
      return setup.groupId;
    }

    /** The loader's backend once it waits on the lock. */
    async function waitingBackend(): Promise<number> {
      for (let attempt = 0; attempt < 500; attempt += 1) {
        const { rows } = await blocker.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [`mb-test-${SUITE}`],
        );
        if (rows[0]) return rows[0].pid;
        await sleep(20);
      }
      throw new Error('the load never waited on the locked node');
    }

    it('aborting cancels the statement, rolls the batch back and throws DeadlineExceededError', async () => {
      const groupId = await lockedGroup();
      const job = await newJob(groupId);
      const controller = new AbortController();
      const loading = load(job, [row(2, 'new-1'), row(3, 'locked'), row(4, 'new-2')], 10, controller.signal);
      loading.catch(() => {});

      await waitingBackend();
      controller.abort();

      await assert.rejects(loading, { name: 'DeadlineExceededError' });
      await blocker.query('ROLLBACK');
      assert.deepEqual([...(await nodesOf(groupId)).keys()], ['locked']);
      const { rows } = await db.pool.query<{ last_job_id: string }>(
        'SELECT last_job_id FROM nodes WHERE domain_id = $1 AND group_id = $2',
        [DOMAIN, groupId],
      );
      assert.notEqual(rows[0]?.last_job_id, job.jobId);
    });

    it('a terminated connection surfaces as DatabaseUnavailableError', async () => {
      const groupId = await lockedGroup();
      const job = await newJob(groupId);
      const loading = load(job, [row(2, 'new-1'), row(3, 'locked')], 10);
      loading.catch(() => {});

      const pid = await waitingBackend();
      await blocker.query('SELECT pg_terminate_backend($1)', [pid]);

      await assert.rejects(loading, { name: 'DatabaseUnavailableError' });
      await blocker.query('ROLLBACK');
      assert.deepEqual([...(await nodesOf(groupId)).keys()], ['locked']);
      // The broken connection was discarded: the pool still serves queries.
      assert.equal((await db.pool.query('SELECT 1 AS one')).rows[0]?.one, 1);
    });
  });

  it('rejects a non-positive dbBatchRows', async () => {
    const job = await newJob();

    await assert.rejects(loadNodes(db.pool, job, source([]), { dbBatchRows: 0 }), RangeError);
  });
});
