import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mskEvent, mskRecord } from '../support/msk-events.ts';
import { type Assembly, startAssembly } from './support/assembly.ts';

/** What an import guarantees (README), through the bundled functions. */
describe('the assembly: what an import guarantees', { timeout: 900_000 }, () => {
  let assembly: Assembly;
  let bucket: string;
  before(async () => {
    assembly = await startAssembly();
    bucket = assembly.bucket('StagingBucket');
  });
  after(async () => {
    await assembly?.close();
  });

  function failures() {
    return JSON.stringify(
      assembly.lambda.invocations
        .filter((i) => i.errorType !== undefined)
        .map((i) => [i.handlerName, i.errorType, i.errorMessage]),
    );
  }

  async function requestImport(
    domain: string,
    key: string,
    offset: number,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const request = { domainId: domain, groupId: 'g', filePath: `s3://${bucket}/${key}`, ...extra };
    await assembly.lambda.invoke(
      assembly.lambda.byHandler('ingest').name,
      mskEvent([mskRecord(JSON.stringify(request), { topic: 'matchbridge-users', offset })]),
    );
  }

  async function jobsOf(domain: string) {
    const { rows } = await assembly.pool.query(
      `SELECT id, status, total::int, processed::int, failed_count::int, failure_reason, dry_run
         FROM import_jobs WHERE domain_id = $1 ORDER BY created_at`,
      [domain],
    );
    return rows;
  }

  async function nodeCount(domain: string): Promise<number> {
    const { rows } = await assembly.pool.query('SELECT count(*)::int AS n FROM nodes WHERE domain_id = $1', [
      domain,
    ]);
    return rows[0].n;
  }

  it('a dry run requested on Kafka counts and reports as the real run that follows it, and writes nothing', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/g/dry.csv`;
    const csv = 'reference_id,city\nd1,Pune\n,Nowhere\nd2,Goa\nd1,Delhi\n';
    await assembly.s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: csv }));

    await requestImport(domain, key, 910, { dryRun: true });
    await assembly.settled();
    const afterDryRun = await nodeCount(domain);
    await requestImport(domain, key, 911);
    await assembly.settled();

    const [dry, real] = await jobsOf(domain);
    assert.equal(afterDryRun, 0, failures());
    assert.deepEqual(
      [dry?.dry_run, dry?.status, dry?.total, dry?.processed, dry?.failed_count],
      [true, 'FAILED', 4, 2, 1],
      failures(),
    );
    assert.deepEqual(
      [real?.dry_run, real?.status, real?.total, real?.processed, real?.failed_count],
      [false, 'FAILED', 4, 2, 1],
    );
    assert.equal(await nodeCount(domain), 2);
  });

  it('an older request after a newer one writes nothing and counts its rows stale', async () => {
    const domain = randomUUID();
    const put = (name: string, city: string) =>
      assembly.s3.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `incoming/nodes/${domain}/g/${name}`,
          Body: `reference_id,city\ns1,${city}\ns2,${city}\n`,
        }),
      );
    await put('today.csv', 'Pune');
    await put('yesterday.csv', 'Goa');

    await requestImport(domain, `incoming/nodes/${domain}/g/today.csv`, 930, {
      asOf: '2026-12-02T00:00:00Z',
    });
    await assembly.settled();
    await requestImport(domain, `incoming/nodes/${domain}/g/yesterday.csv`, 931, {
      asOf: '2026-12-01T00:00:00Z',
    });
    await assembly.settled();

    const { rows } = await assembly.pool.query(
      `SELECT status, total::int, processed::int, stale_count::int AS stale FROM import_jobs
        WHERE domain_id = $1 ORDER BY created_at`,
      [domain],
    );
    assert.deepEqual(
      rows.map((r) => [r.status, r.total, r.processed, r.stale]),
      [
        ['COMPLETED', 2, 2, 0],
        ['COMPLETED', 2, 0, 2],
      ],
      failures(),
    );
    const cities = await assembly.pool.query(
      `SELECT DISTINCT m.metadata->>'city' AS city FROM nodes n JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1`,
      [domain],
    );
    assert.deepEqual(
      cities.rows.map((r) => r.city),
      ['Pune'],
    );
    const messages = await assembly.pool.query(
      `SELECT e.payload->>'stale' AS stale FROM job_status_events e JOIN import_jobs j ON j.id = e.job_id
        WHERE j.domain_id = $1 ORDER BY j.created_at, e.id`,
      [domain],
    );
    assert.equal(messages.rows.at(-1)?.stale, '2', 'the status message says stale');
  });

  it('a request with maxFailedRows stops its job once more rows failed, before reading the whole file', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/g/bad.csv`;
    const lines = ['reference_id,city'];
    for (let row = 0; row < 50_000; row++) lines.push(row % 10 === 0 ? ',nowhere' : `r${row},x`);
    await assembly.s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${lines.join('\n')}\n` }),
    );

    await requestImport(domain, key, 920, { maxFailedRows: 10 });
    await assembly.settled();

    const [job] = await jobsOf(domain);
    assert.equal(job?.status, 'FAILED', failures());
    assert.match(String(job?.failure_reason), /failure budget/);
    assert.ok(Number(job?.processed) < 45_000, `stopped early: ${job?.processed} rows written`);
  });

  it('a source re-uploaded between the plan and its batches fails the job SOURCE_CHANGED, naming the file', async () => {
    const domain = randomUUID();
    const key = `incoming/nodes/${domain}/g/pinned.csv`;
    const put = (city: string) =>
      assembly.s3.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `reference_id,city\np1,${city}\np2,${city}\n`,
        }),
      );
    await put('Pune');
    let reuploaded = false;
    assembly.lambda.beforeInvoke = async (fn) => {
      if (fn.handlerName === 'load-batch' && !reuploaded) {
        reuploaded = true;
        await put('Mumbai');
      }
    };
    try {
      await requestImport(domain, key, 900);
      await assembly.settled();
    } finally {
      assembly.lambda.beforeInvoke = undefined;
    }

    assert.ok(reuploaded, 'a batch ran');
    const { rows } = await assembly.pool.query(
      'SELECT status, failure_code, failure_message FROM import_jobs WHERE domain_id = $1',
      [domain],
    );
    assert.deepEqual([rows[0]?.status, rows[0]?.failure_code], ['FAILED', 'SOURCE_CHANGED'], failures());
    assert.match(String(rows[0]?.failure_message), /pinned\.csv/);
    const nodes = await assembly.pool.query(
      `SELECT count(*)::int AS n FROM nodes n JOIN node_metadata m ON m.node_id = n.id
        WHERE n.domain_id = $1 AND m.metadata->>'city' = 'Mumbai'`,
      [domain],
    );
    assert.equal(nodes.rows[0].n, 0, 'no row of the re-uploaded file was loaded');
  });
});
