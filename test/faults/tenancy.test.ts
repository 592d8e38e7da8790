import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeMatchParquet } from '../../bench/generate-matches.ts';
import { type ApiServer, LOCAL_DOMAIN_HEADER, startApiServer } from '../../lib/api/server.ts';
import { referenceListUri, writeReferenceList } from '../../lib/jobs/reference-list.ts';
import { localApiContext } from '../../lib/local/api-context.ts';
import { runImportLocally } from '../../lib/local/run-import.ts';
import type { JobStatusMessage } from '../../lib/model/types.ts';
import { runtimeDeps } from '../../lib/runtime/deps.ts';
import { apiClient } from '../support/api-client.ts';
import { importNodes } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const MINE = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const THEIRS = '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f';
const GROUP = 'shared-group';
const NODES = 300;
const MATCHES = 400;

/** Node ids both domains use: `t-000` … */
const idOf = (i: number) => `t-${String(i).padStart(3, '0')}`;

describe('tenancy: one domain’s jobs never read or change another domain’s rows', () => {
  const suite = localPipeline('tenancy', { SPLIT_BYTES: String(4 * 1024), DB_BATCH_ROWS: '64' });
  let server: ApiServer;
  let drain: () => Promise<void>;
  // The domain header stands for the caller's identity only on a server with a token, as on AWS.
  const TOKEN = 'tenancy-test-token';
  const asDomain = (domain: string) =>
    apiClient(server.url, { [LOCAL_DOMAIN_HEADER]: domain, authorization: `Bearer ${TOKEN}` });

  before(async () => {
    for (const domain of [MINE, THEIRS]) {
      await suite.pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [domain]);
      await suite.pool.query(`INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, $2, 'G')`, [
        domain,
        GROUP,
      ]);
    }
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0, token: TOKEN });
  });
  after(async () => {
    await server?.close();
    await drain?.();
  });

  /** Everything of a domain that a job could change: nodes, metadata, matches, job errors, as rows. */
  async function snapshot(domain: string): Promise<unknown[][]> {
    const queries = [
      `SELECT n.id, n.reference_id, n.group_id, n.type, n.processed, n.created_at, n.updated_at, m.metadata
       FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id WHERE n.domain_id = $1 ORDER BY n.id`,
      `SELECT to_jsonb(s) AS row FROM match_suggestions s WHERE s.domain_id = $1
       ORDER BY s.participant_id, s.matched_participant_id`,
      `SELECT e.job_id, e.line, e.reference, e.code, e.reason FROM import_job_errors e
       WHERE e.domain_id = $1 ORDER BY e.job_id, e.line`,
    ];
    const out: unknown[][] = [];
    for (const text of queries) out.push((await suite.pool.query(text, [domain])).rows);
    return out;
  }

  async function nodesFile(owner: string, name: string): Promise<string> {
    const rows = Array.from({ length: NODES }, (_, i) => `${idOf(i)},${owner},${i}`);
    // A row without a reference: a failed row, so the job has errors to hide.
    rows.splice(10, 0, `,${owner},no reference`);
    const path = join(suite.dir, name);
    await writeFile(path, `reference_id,owner,rank\n${rows.join('\n')}\n`);
    return path;
  }

  function matchesFile(name: string, shift: number): string {
    const path = join(suite.dir, name);
    writeMatchParquet(path, MATCHES, {
      rowGroupRows: 100,
      row: (i, row) => ({
        ...row,
        participant_id: idOf(i % NODES),
        // Past the first NODES rows, one further on: every pair is new.
        matched_participant_id: idOf((i * 7 + shift + Math.floor(i / NODES)) % NODES),
        compatibility_score: ((i + shift) % 100) / 100,
      }),
    });
    return path;
  }

  const importMatches = (domainId: string, uri: string): Promise<JobStatusMessage> =>
    runImportLocally({
      jobId: randomUUID(),
      kind: 'matches',
      domainId,
      groupId: GROUP,
      source: { uri, contentType: 'application/vnd.apache.parquet' },
      origin: 'test',
    });

  async function importReferences(domainId: string, ids: string[]): Promise<JobStatusMessage> {
    const { store, config } = await runtimeDeps();
    const jobId = randomUUID();
    const staged = await writeReferenceList(store, referenceListUri(config, jobId), ids);
    return runImportLocally({
      jobId,
      kind: 'nodes',
      domainId,
      groupId: GROUP,
      source: { uri: staged.uri, kind: 'references' },
      origin: 'test',
    });
  }

  let theirJob: JobStatusMessage;

  it('same group and node ids under two domains: importing into one leaves the other exactly as it was', async () => {
    theirJob = await importNodes(THEIRS, GROUP, await nodesFile('theirs', 'theirs.csv'));
    const theirMatches = await importMatches(THEIRS, matchesFile('theirs.parquet', 1));
    assert.deepEqual([theirJob.status, theirJob.processed], ['FAILED', NODES]);
    assert.deepEqual([theirMatches.status, theirMatches.processed], ['COMPLETED', MATCHES]);
    const before = await snapshot(THEIRS);

    const mine = await importNodes(MINE, GROUP, await nodesFile('mine', 'mine.csv'));
    const myMatches = await importMatches(MINE, matchesFile('mine.parquet', 2));
    const again = await importMatches(MINE, matchesFile('mine-again.parquet', 3));
    const references = await importReferences(MINE, [idOf(0), idOf(NODES - 1), 'only-mine']);

    assert.deepEqual([mine.processed, myMatches.processed, again.processed], [NODES, MATCHES, MATCHES]);
    assert.equal(references.status, 'COMPLETED');
    assert.deepEqual(await snapshot(THEIRS), before);
    const owners = await suite.pool.query<{ domain_id: string; owner: string; n: string }>(
      `SELECT n.domain_id, m.metadata->>'owner' AS owner, count(*) AS n
       FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id WHERE n.group_id = $1
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [GROUP],
    );
    assert.deepEqual(
      owners.rows.map((r) => [r.domain_id, r.owner, Number(r.n)]),
      [
        [MINE, 'mine', NODES],
        [MINE, null, 1],
        [THEIRS, 'theirs', NODES],
      ],
    );
  });

  it('through the bulk API a caller of one domain cannot read or touch another domain’s jobs, errors or exports', async () => {
    const mine = asDomain(MINE);
    const theirs = asDomain(THEIRS);
    const csvImport = (call: ReturnType<typeof apiClient>, domain: string, key: string) =>
      call('POST', `/v1/imports?resource_type=nodes&format=csv&domain_id=${domain}&group_id=${GROUP}`, {
        headers: { 'idempotency-key': key, 'content-type': 'text/csv' },
        body: 'reference_id,owner\napi-1,api\n,api\n',
      });
    // The same idempotency key under both domains: two jobs, neither the other's replay.
    const theirApiJob = await csvImport(theirs, THEIRS, 'same-key');
    const myApiJob = await csvImport(mine, MINE, 'same-key');
    assert.deepEqual([theirApiJob.status, myApiJob.status], [202, 202]);
    assert.notEqual(theirApiJob.json.job_id, myApiJob.json.job_id);
    const awaiting = await theirs('POST', '/v1/imports', {
      headers: { 'idempotency-key': 'upload-later', 'content-type': 'application/json' },
      body: JSON.stringify({ resource_type: 'nodes', format: 'csv', domain_id: THEIRS, group_id: GROUP }),
    });
    const theirExport = await theirs('POST', '/v1/exports', {
      headers: { 'idempotency-key': 'their-export', 'content-type': 'application/json' },
      body: JSON.stringify({ resource_type: 'nodes', format: 'csv', domain_id: THEIRS }),
    });
    await drain();
    const before = await snapshot(THEIRS);
    const own = await theirs('GET', `/v1/imports/${theirApiJob.json.job_id}`);
    assert.equal((own.json.errors as unknown[]).length, 1, 'their caller sees their errors');

    const refused = [
      await mine('GET', `/v1/imports/${theirJob.jobId}`),
      await mine('GET', `/v1/imports/${theirApiJob.json.job_id}`),
      await mine('GET', `/v1/imports/${theirApiJob.json.job_id}?limit=1000`),
      await mine('PUT', `/v1/imports/${awaiting.json.job_id}/file`, {
        headers: { 'content-type': 'text/csv' },
        body: 'reference_id,owner\nt-000,intruder\n',
      }),
      await csvImport(mine, THEIRS, 'intrude'),
      await mine('GET', `/v1/exports/${theirExport.json.job_id}`),
      await mine('POST', '/v1/exports', {
        headers: { 'idempotency-key': 'their-export', 'content-type': 'application/json' },
        body: JSON.stringify({ resource_type: 'nodes', format: 'csv', domain_id: THEIRS }),
      }),
      ...(await Promise.all(
        ['nodes', 'matches', 'users'].map((resource) =>
          mine('GET', `/v1/exports?resource_type=${resource}&format=ndjson&domain_id=${THEIRS}`),
        ),
      )),
    ];

    assert.deepEqual(
      refused.map((reply) => [reply.status, reply.json.code]),
      refused.map(() => [403, 'FORBIDDEN']),
    );
    for (const reply of refused) {
      assert.doesNotMatch(
        reply.text,
        /theirs|t-0|errors|download_url/,
        'a refusal says nothing of their data',
      );
    }
    await drain();
    assert.deepEqual(await snapshot(THEIRS), before);
    // My own exports hold only my rows, though their group and ids are the same.
    for (const resource of ['nodes', 'matches']) {
      const reply = await mine(
        'GET',
        `/v1/exports?resource_type=${resource}&format=ndjson&domain_id=${MINE}`,
      );
      assert.equal(reply.status, 200);
      const rows = reply.text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const { rows: count } = await suite.pool.query<{ n: string }>(
        resource === 'nodes'
          ? 'SELECT count(*) AS n FROM nodes WHERE domain_id = $1'
          : 'SELECT count(*) AS n FROM match_suggestions WHERE domain_id = $1',
        [MINE],
      );
      assert.equal(rows.length, Number(count[0]?.n), resource);
      assert.ok(
        rows.every((row) => !JSON.stringify(row).includes('theirs')),
        `${resource} export holds only my rows`,
      );
    }
  });
});
