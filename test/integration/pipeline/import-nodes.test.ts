import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { writeNodeCsv } from '../../../bench/generate-nodes.ts';
import { writeReferenceList } from '../../../lib/jobs/reference-list.ts';
import type { TaskObserver } from '../../../lib/local/local-runner.ts';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../../../lib/model/types.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '0b6c1c9e-8a51-4c57-9d0f-6d7a1f4c2e10';

describe('node import through the synthesized state machine, locally', () => {
  const suite = localPipeline('pipeline', {
    // Small splits and DB batches, so that a test file spans many batches and transactions.
    SPLIT_BYTES: String(256 * 1024),
    DB_BATCH_ROWS: '2000',
    STATUS_LIST_CAP: '50',
  });

  const run = (
    file: string,
    groupId: string,
    kind: 'file' | 'references' = 'file',
    observe?: TaskObserver,
  ): Promise<JobStatusMessage> => {
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'nodes',
      domainId: DOMAIN,
      groupId,
      source: { uri: file, kind },
      origin: 'test',
    };
    return runImportLocally(input, observe ? { observe } : {});
  };
  const count = async (sql: string, params: unknown[]): Promise<number> =>
    Number((await suite.pool.query<{ n: string }>(sql, params)).rows[0]?.n);
  const nodesIn = (groupId: string) =>
    count('SELECT count(*) AS n FROM nodes WHERE domain_id = $1 AND group_id = $2', [DOMAIN, groupId]);

  it('imports a generated 100K-row CSV.gz completely, and a re-import changes nothing but updated_at', async () => {
    const file = join(suite.dir, 'nodes-100k.csv.gz');
    await writeNodeCsv(file, 100_000);

    const first = await run(file, 'big');

    assert.equal(first.status, 'COMPLETED');
    assert.equal(first.total, 100_000);
    assert.equal(first.processed, 100_000);
    assert.equal(first.successList.length, 50);
    assert.equal(await nodesIn('big'), 100_000);
    assert.equal(
      await count(
        'SELECT count(*) AS n FROM node_metadata m JOIN nodes n ON n.id = m.node_id WHERE n.domain_id = $1 AND n.group_id = $2',
        [DOMAIN, 'big'],
      ),
      100_000,
    );
    const before = (
      await suite.pool.query(
        'SELECT id, metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id WHERE reference_id = $1',
        ['ref-00012345'],
      )
    ).rows[0];
    assert.equal(Object.keys(before.metadata).length, 8);

    const second = await run(file, 'big');

    assert.equal(second.status, 'COMPLETED');
    assert.equal(second.processed, 100_000);
    assert.equal(await nodesIn('big'), 100_000);
    const after = (
      await suite.pool.query(
        'SELECT id, metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id WHERE reference_id = $1',
        ['ref-00012345'],
      )
    ).rows[0];
    assert.deepEqual(after, before);
    const successReport = await readFile(second.successListUri ?? '', 'utf8');
    assert.equal(successReport.trim().split('\n').length, 100_001);
  });

  it('fails a file with bad rows, names exactly those lines, and loads every good row', async () => {
    const file = join(suite.dir, 'bad-rows.csv');
    const long = 'x'.repeat(256);
    const lines = [
      'reference_id,name,city',
      'good-1,Asha,Pune', // line 2
      ',Nobody,Delhi', // line 3: no reference
      'good-2,"Two\nLines",Goa', // lines 4-5
      `${long},Long,Agra`, // line 6: reference over 255 characters
      'good-3,Too,Many,Fields', // line 7: wrong field count
      'good-4,Meera,Kochi', // line 8
    ];
    const bytes = Buffer.concat([
      Buffer.from(`${lines.join('\n')}\n`),
      Buffer.from([0x62, 0x61, 0x64, 0x2c, 0xff, 0xfe, 0x2c, 0x78, 0x0a]), // line 9: invalid UTF-8
      Buffer.from('good-5,Kabir,Delhi\n'), // line 10
    ]);
    await writeFile(file, bytes);

    const message = await run(file, 'bad');

    assert.equal(message.status, 'FAILED');
    assert.equal(message.total, 8);
    assert.equal(message.processed, 4);
    assert.equal(await nodesIn('bad'), 4);
    const report = (await readFile(message.failedListUri ?? '', 'utf8')).trim().split('\n').slice(1);
    assert.deepEqual(
      report.map((line) => line.split(',').slice(0, 3).join(',')),
      // An over-long reference is not repeated in the report: it is not a usable reference.
      ['3,,MISSING_REFERENCE', '6,,REFERENCE_TOO_LONG', '7,good-3,WRONG_FIELD_COUNT', '9,bad,INVALID_UTF8'],
    );
    assert.deepEqual(message.failedList, ['line:3', 'line:6', 'good-3', 'bad']);
    const job = (
      await suite.pool.query('SELECT status, failed_count::int FROM import_jobs WHERE id = $1', [
        message.jobId,
      ])
    ).rows[0];
    assert.deepEqual(job, { status: 'FAILED', failed_count: 4 });
  });

  it('keeps the last of duplicate references across batches and counts it once', async () => {
    const file = join(suite.dir, 'duplicates.csv');
    const rows = ['reference_id,version'];
    for (let i = 0; i < 30_000; i += 1) rows.push(`dup-${i % 10_000},v${i}`);
    await writeFile(file, `${rows.join('\n')}\n`);

    const message = await run(file, 'dups');

    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.total, 30_000);
    assert.equal(message.processed, 10_000);
    assert.equal(await nodesIn('dups'), 10_000);
    const versions = await suite.pool.query(
      `SELECT n.reference_id, m.metadata->>'version' AS version FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = 'dups' AND n.reference_id IN ('dup-0', 'dup-9999') ORDER BY 1`,
      [DOMAIN],
    );
    assert.deepEqual(versions.rows, [
      { reference_id: 'dup-0', version: 'v20000' },
      { reference_id: 'dup-9999', version: 'v29999' },
    ]);
    const listed = (await readFile(message.successListUri ?? '', 'utf8')).trim().split('\n').slice(1);
    assert.equal(new Set(listed).size, 10_000);
    assert.equal(listed.length, 10_000);
  });

  it('fails a truncated gzip with a reason and leaves no job PROCESSING', async () => {
    const file = join(suite.dir, 'truncated.csv.gz');
    const whole = gzipSync(Buffer.from(`reference_id,name\n${'r,n\n'.repeat(50_000)}`));
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));

    const message = await run(file, 'truncated');

    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /FILE_TRUNCATED|truncated/i);
    assert.equal(
      await count("SELECT count(*) AS n FROM import_jobs WHERE status IN ('PENDING', 'PROCESSING')", []),
      0,
    );
  });

  it('fails a missing file and a file without a reference column with their reasons', async () => {
    const missing = await run(join(suite.dir, 'does-not-exist.csv'), 'missing');
    assert.equal(missing.status, 'FAILED');
    assert.match(missing.failureReason ?? '', /not found/i);

    const file = join(suite.dir, 'no-reference.csv');
    await writeFile(file, 'name,city\nAsha,Pune\n');
    const noReference = await run(file, 'no-reference');
    assert.equal(noReference.status, 'FAILED');
    assert.match(noReference.failureReason ?? '', /reference/i);
  });

  it('imports a staged reference list as nodes without metadata, leaving existing metadata alone', async () => {
    const existing = join(suite.dir, 'existing.csv');
    await writeFile(existing, 'reference_id,city\nref-1,Pune\n');
    assert.equal((await run(existing, 'refs')).status, 'COMPLETED');
    const list = join(suite.dir, 'references.csv');
    const ids = [
      'ref-1',
      ...Array.from({ length: 4_999 }, (_, i) => `ref-${i + 2}`),
      '',
      'ref-7',
      'r'.repeat(300),
    ];
    const { store } = await runtimeDeps();
    await writeReferenceList(store, list, ids);

    const message = await run(list, 'refs', 'references');

    assert.equal(message.status, 'FAILED');
    assert.equal(message.total, 5_003);
    assert.equal(message.processed, 5_000);
    assert.deepEqual(message.failedList, ['line:5002', 'line:5004']);
    assert.equal(await nodesIn('refs'), 5_000);
    const metadata = await suite.pool.query(
      `SELECT n.reference_id, m.metadata FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = 'refs' AND n.reference_id IN ('ref-1', 'ref-2') ORDER BY 1`,
      [DOMAIN],
    );
    assert.deepEqual(metadata.rows, [
      { reference_id: 'ref-1', metadata: { city: 'Pune' } },
      { reference_id: 'ref-2', metadata: null },
    ]);
  });

  it('records a batch that fails for good as failed, loads the others and ends the job FAILED', async () => {
    const file = join(suite.dir, 'batch-failure.csv.gz');
    await writeNodeCsv(file, 20_000);
    let lostPart: { index: number; firstLine: number; records: number } | undefined;
    // Between the plan and the loads, one staged part disappears: its batch fails with FILE_NOT_FOUND,
    // which is not retried, and the Map's Catch turns it into a FAILED batch result.
    const loseOnePart: TaskObserver = (handler, _input, output) => {
      if (handler !== 'plan') return;
      const batch = (
        output as { batches: Array<{ index: number; uri: string; firstLine: number; records: number }> }
      ).batches[1];
      if (!batch) throw new Error('expected at least two batches');
      lostPart = batch;
      rmSync(batch.uri);
    };

    const message = await run(file, 'batch-failure', 'file', loseOnePart);

    assert.ok(lostPart);
    assert.equal(message.status, 'FAILED');
    assert.match(message.failureReason ?? '', /^batch 1 .*InvalidFileError/);
    assert.equal(message.total, 20_000);
    assert.equal(message.processed, 20_000 - lostPart.records);
    assert.equal(await nodesIn('batch-failure'), 20_000 - lostPart.records);
    assert.deepEqual(message.failedList, [`line:${lostPart.firstLine}`]);
  });

  it('completes a header-only file with nothing to load', async () => {
    const file = join(suite.dir, 'header-only.csv');
    await writeFile(file, '\uFEFFReference ID,Name\r\n');

    const message = await run(file, 'empty');

    assert.equal(message.status, 'COMPLETED');
    assert.equal(message.total, 0);
    assert.equal(message.processed, 0);
  });
});
