import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { failExport } from '../../../lib/api/export-jobs.ts';
import openapi from '../../../lib/api/openapi.json' with { type: 'json' };
import { ROUTES } from '../../../lib/api/routes.ts';
import { type ApiServer, LOCAL_DOMAIN_HEADER, startApiServer } from '../../../lib/api/server.ts';
import { DatabaseUnavailableError } from '../../../lib/errors.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { apiClient } from '../../support/api-client.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER = '6e2d3c4b-5f6a-4b7c-9d8e-0f1a2b3c4d5e';
const TOKEN = 'a-token-of-the-local-api';

describe('bulk HTTP API over real HTTP', () => {
  let dir: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let server: ApiServer;
  let guarded: ApiServer;
  let imports: string;
  let drain: () => Promise<void>;
  let call: ReturnType<typeof apiClient>;
  let key = 0;
  const nextKey = () => {
    key += 1;
    return `key-${Date.now()}-${key}`;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-'));
    imports = join(dir, 'imports');
    await mkdir(imports);
    const db = await testDatabase('api');
    pool = db.pool;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      API_MAX_BODY_BYTES: String(1024 * 1024),
      API_STREAM_MAX_ROWS: '5000',
      API_LOCAL_IMPORT_ROOT: imports,
    });
    for (const domain of [DOMAIN, OTHER]) {
      await pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [domain]);
      await pool.query(
        `INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, 'g1', 'G1'), ($1, 'g2', 'G2')`,
        [domain],
      );
    }
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    guarded = await startApiServer(context, { port: 0, token: TOKEN });
    call = apiClient(server.url);
  });
  after(async () => {
    await server.close();
    await guarded.close();
    await drain();
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  const finished = async (jobId: string, path = 'imports') => {
    await drain();
    const reply = await call('GET', `/v1/${path}/${jobId}`);
    assert.equal(reply.status, 200);
    return reply.json;
  };
  /** POST /v1/imports with `query` (from its `?`) and a fresh idempotency key. */
  const post = (query: string, body: string, headers: Record<string, string>) =>
    call('POST', `/v1/imports${query}`, { headers: { 'idempotency-key': nextKey(), ...headers }, body });
  /** The query of a CSV node import into group g2. */
  const target = `resource_type=nodes&domain_id=${DOMAIN}&group_id=g2&format=csv`;
  const rawImport = (
    resource: string,
    format: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
    domain = DOMAIN,
  ) =>
    call(
      'POST',
      `/v1/imports?resource_type=${resource}&domain_id=${domain}&group_id=g1${format === 'parquet' ? '' : `&format=${format}`}`,
      {
        headers: {
          'idempotency-key': nextKey(),
          'content-type':
            { csv: 'text/csv', ndjson: 'application/x-ndjson', parquet: 'application/vnd.apache.parquet' }[
              format
            ] ?? '',
          ...headers,
        },
        body,
      },
    );

  it('documents exactly the routes the handlers serve', () => {
    const served = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    const documented = Object.entries(openapi.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(served, documented);
  });

  it('serves its OpenAPI 3.1 document', async () => {
    const reply = await call('GET', '/v1/openapi.json');
    assert.equal(reply.status, 200);
    assert.equal(reply.json.openapi, '3.1.0');
  });

  it('imports users from a raw CSV body: bad rows reported with every error, good rows loaded', async () => {
    const csv =
      'username,display_name,date_of_birth,smokes,preferred_genders,preferred_min_age,preferred_max_age,group_id\n' +
      'alice,Alice,1990-01-02,no,female|male,25,40,\n' +
      ',Nobody,not-a-date,maybe,,10,30,\n' +
      'bob,"Bob\nSmith",1985-05-05,yes,female,30,20,\n' +
      'carol,Carol,1992-03-04,false,,,,nowhere\n' +
      'dave,Dave,1980-01-01,true,male,,,g2\n';
    const created = await rawImport('users', 'csv', csv);
    assert.equal(created.status, 202);
    const job = await finished(created.json.job_id as string);
    assert.equal(job.status, 'failed');
    assert.equal(job.failure, undefined, 'failed by its rows: they say why');
    assert.equal(job.total_records, 5);
    assert.equal(job.success_count, 2);
    assert.equal(job.fail_count, 3);
    const errors = job.errors as { line: number; errors: string[] }[];
    assert.deepEqual(
      errors.map((e) => e.line),
      [3, 4, 6],
    );
    assert.equal(errors[0]?.errors.length, 4);
    assert.ok(errors[1]?.errors.some((e) => e.includes('preferred_min_age')));
    assert.ok(errors[2]?.errors[0]?.includes('nowhere'));
    assert.ok(typeof job.error_report_url === 'string');
    const report = await readFile(fileURLToPath(job.error_report_url as string), 'utf8');
    assert.equal(report.trim().split('\n').length, 4);
    const users = await pool.query(
      'SELECT username, group_id, preferred_genders, smokes FROM users WHERE domain_id = $1 ORDER BY username',
      [DOMAIN],
    );
    assert.deepEqual(users.rows, [
      { username: 'alice', group_id: 'g1', preferred_genders: ['female', 'male'], smokes: false },
      { username: 'dave', group_id: 'g2', preferred_genders: ['male'], smokes: true },
    ]);
  });

  it('imports users from an NDJSON multipart upload', async () => {
    const ndjson = [
      JSON.stringify({ username: 'erin', ready_for_matching: true, preferred_genders: ['x'] }),
      '',
      '{not json',
      JSON.stringify({ username: 'frank', smokes: 'yes' }),
      JSON.stringify({ username: 'erin', display_name: 'Erin 2' }),
    ].join('\n');
    const form = new FormData();
    form.set('resource_type', 'users');
    form.set('format', 'ndjson');
    form.set('domain_id', DOMAIN);
    form.set('group_id', 'g1');
    form.set('file', new Blob([ndjson]), 'users.ndjson');
    const created = await call('POST', '/v1/imports', {
      headers: { 'idempotency-key': nextKey() },
      body: form,
    });
    assert.equal(created.status, 202);
    const job = await finished(created.json.job_id as string);
    assert.deepEqual(
      (job.errors as { line: number }[]).map((e) => e.line),
      [3, 4],
    );
    // erin's second line wins: one user written, her first line a duplicate (counted once, not as a success).
    assert.deepEqual([job.total_records, job.success_count, job.fail_count], [4, 1, 2]);
    const erin = await pool.query(
      `SELECT display_name, ready_for_matching FROM users WHERE domain_id = $1 AND username = 'erin'`,
      [DOMAIN],
    );
    assert.deepEqual(erin.rows, [{ display_name: 'Erin 2', ready_for_matching: false }]);
  });

  it('imports nodes from CSV and from NDJSON through the node pipeline, with NDJSON line numbers', async () => {
    const csv = await rawImport('nodes', 'csv', 'reference_id,city\nn1,Pune\n,Nowhere\nn2,Goa\n');
    const csvJob = await finished(csv.json.job_id as string);
    assert.equal(csvJob.total_records, 3);
    assert.equal(csvJob.success_count, 2, JSON.stringify(csvJob));
    assert.deepEqual(
      (csvJob.errors as { line: number }[]).map((e) => e.line),
      [3],
    );
    const ndjson = [
      JSON.stringify({ reference_id: 'n3', city: 'Delhi', tags: ['a'] }),
      '[1]',
      JSON.stringify({ reference_id: 'n4', note: 'two\nlines' }),
      JSON.stringify({ reference_id: 'n5', age: 31, formula: '=1+1', quoted: "'-5" }),
    ].join('\n');
    const created = await rawImport('nodes', 'ndjson', ndjson);
    const job = await finished(created.json.job_id as string);
    assert.equal(job.success_count, 2);
    assert.deepEqual(
      (job.errors as { line: number }[]).map((e) => e.line),
      [2, 3],
    );
    const meta = await pool.query(
      `SELECT n.reference_id, m.metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.reference_id IN ('n3', 'n5') ORDER BY 1`,
      [DOMAIN],
    );
    assert.deepEqual(
      meta.rows.map((r) => r.metadata),
      [
        { city: 'Delhi', tags: '["a"]' },
        { age: '31', formula: '=1+1', quoted: "'-5" },
      ],
    );
  });

  it('a dry run (?dry_run=true, or a dry_run field) counts and reports as a real import, and writes no node', async () => {
    const dry = await post(`?${target}&dry_run=true`, 'reference_id,city\ndry1,Pune\n,Nowhere\ndry2,Goa\n', {
      'content-type': 'text/csv',
    });
    const job = await finished(dry.json.job_id as string);
    const refused = await post(
      '',
      JSON.stringify({
        resource_type: 'users',
        format: 'csv',
        domain_id: DOMAIN,
        group_id: 'g2',
        dry_run: true,
      }),
      { 'content-type': 'application/json' },
    );

    assert.deepEqual(
      [job.status, job.total_records, job.success_count],
      ['failed', 3, 2],
      JSON.stringify(job),
    );
    assert.deepEqual(
      (job.errors as { line: number }[]).map((e) => e.line),
      [3],
    );
    const written = await pool.query(
      `SELECT count(*)::int AS n FROM nodes WHERE domain_id = $1 AND reference_id LIKE 'dry%'`,
      [DOMAIN],
    );
    assert.equal(written.rows[0].n, 0);
    const row = await pool.query('SELECT dry_run FROM import_jobs WHERE id = $1', [dry.json.job_id]);
    assert.equal(row.rows[0].dry_run, true);
    assert.deepEqual([refused.status, refused.json.code], [400, 'DRY_RUN_UNSUPPORTED']);
  });

  it('as_of: an import older than the nodes it names writes nothing and says stale_count; users refuse it', async () => {
    const csv = (city: string) => `reference_id,city\nao1,${city}\nao2,${city}\n`;
    const olderFile = join(imports, 'asof-older.csv');
    await writeFile(olderFile, csv('Goa'));

    const newer = await post(`?${target}&as_of=2026-12-02T00:00:00Z`, csv('Pune'), {
      'content-type': 'text/csv',
    });
    await finished(newer.json.job_id as string);
    const older = await post(
      '',
      JSON.stringify({
        resource_type: 'nodes',
        format: 'csv',
        domain_id: DOMAIN,
        group_id: 'g2',
        source_uri: olderFile,
        as_of: '2026-12-01T00:00:00Z',
      }),
      { 'content-type': 'application/json' },
    );
    const job = await finished(older.json.job_id as string);
    const refused = await post(
      '',
      JSON.stringify({
        resource_type: 'users',
        format: 'csv',
        domain_id: DOMAIN,
        group_id: 'g2',
        as_of: '2026-12-01T00:00:00Z',
      }),
      { 'content-type': 'application/json' },
    );

    assert.deepEqual(
      [job.status, job.total_records, job.success_count, job.fail_count, job.stale_count],
      ['completed', 2, 0, 0, 2],
      JSON.stringify(job),
    );
    const cities = await pool.query(
      `SELECT DISTINCT m.metadata->>'city' AS city FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = 'g2' AND n.reference_id LIKE 'ao%'`,
      [DOMAIN],
    );
    assert.deepEqual(
      cities.rows.map((r) => r.city),
      ['Pune'],
    );
    assert.deepEqual([refused.status, refused.json.code], [400, 'AS_OF_UNSUPPORTED']);
  });

  it('imports matches from a Parquet body, and from CSV and NDJSON with every error of a bad row', async () => {
    const file = join(dir, 'matches.parquet');
    writeMatchParquet(file, 500, { codec: 'SNAPPY', rowGroupRows: 200 });
    const created = await rawImport('matches', 'parquet', await readFile(file));
    const job = await finished(created.json.job_id as string);
    assert.equal(job.status, 'completed');
    assert.equal(job.success_count, 500);

    // Participants must be nodes of the group (checked set-based before loading).
    await pool.query(
      `INSERT INTO nodes (reference_id, group_id, domain_id) SELECT p, 'g1', $1 FROM unnest($2::text[]) p`,
      [DOMAIN, ['p1', 'p2', 'p4', 'p5', 'p6']],
    );
    const csv = await rawImport(
      'matches',
      'csv',
      'participant_id,matched_participant_id,compatibility_score,rank,reason\np1,p2,0.9,1,likes hiking\n,p3,high,1.5,\np1,p4,0.5,,\nghost,p2,0.3,,\n',
    );
    const csvJob = await finished(csv.json.job_id as string);
    assert.equal(csvJob.success_count, 2);
    assert.deepEqual(csvJob.errors, [
      {
        line: 3,
        errors: [
          'participant_id is null or blank; compatibility_score is high; rank 1.5 is not a 32-bit integer',
        ],
      },
      { line: 5, errors: ['ghost is not a node of the group'] },
    ]);
    const ndjson = await rawImport(
      'matches',
      'ndjson',
      `${JSON.stringify({ participant_id: 'p5', matched_participant_id: 'p6', compatibility_score: 0.7, tags: ['x'] })}\n{"participant_id":"p5"}\n`,
    );
    const ndjsonJob = await finished(ndjson.json.job_id as string);
    assert.equal(ndjsonJob.success_count, 1);
    assert.deepEqual(
      (ndjsonJob.errors as { line: number }[]).map((e) => e.line),
      [2],
    );
    const stored = await pool.query(
      `SELECT participant_id, matched_participant_id, compatibility_score, rank, details FROM match_suggestions
       WHERE domain_id = $1 AND participant_id IN ('p1', 'p5') ORDER BY 1, 2`,
      [DOMAIN],
    );
    assert.deepEqual(stored.rows, [
      {
        participant_id: 'p1',
        matched_participant_id: 'p2',
        compatibility_score: 0.9,
        rank: 1,
        details: { reason: 'likes hiking' },
      },
      {
        participant_id: 'p1',
        matched_participant_id: 'p4',
        compatibility_score: 0.5,
        rank: null,
        details: {},
      },
      {
        participant_id: 'p5',
        matched_participant_id: 'p6',
        compatibility_score: 0.7,
        rank: null,
        details: { tags: ['x'] },
      },
    ]);
    const refused = await rawImport('users', 'parquet', 'PAR1');
    assert.equal(refused.status, 400);
    assert.equal(refused.json.code, 'UNSUPPORTED_FORMAT');
  });

  const bySourceUri = (source_uri: string) =>
    call('POST', '/v1/imports', {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/json' },
      body: JSON.stringify({
        resource_type: 'users',
        format: 'csv',
        domain_id: DOMAIN,
        group_id: 'g1',
        source_uri,
      }),
    });

  it('imports from a source_uri, and through the upload_url of a JSON request without one', async () => {
    const file = join(imports, 'users.csv');
    await writeFile(file, 'username\ngina\n');
    const bySource = await bySourceUri(file);
    assert.equal(bySource.status, 202);
    assert.equal((await finished(bySource.json.job_id as string)).status, 'completed');

    const pending = await call('POST', '/v1/imports', {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/json' },
      body: JSON.stringify({ resource_type: 'users', format: 'ndjson', domain_id: DOMAIN, group_id: 'g1' }),
    });
    assert.equal(pending.status, 202);
    const uploadUrl = new URL(pending.json.upload_url as string);
    assert.equal((await call('GET', `/v1/imports/${pending.json.job_id}`)).json.status, 'pending');
    const uploaded = await call('PUT', uploadUrl.pathname, { body: '{"username":"hank"}\n' });
    assert.equal(uploaded.status, 202);
    assert.equal((await finished(pending.json.job_id as string)).status, 'completed');
    const again = await call('PUT', uploadUrl.pathname, { body: '{"username":"ivan"}\n' });
    assert.equal(again.status, 409);
  });

  it('imports matches from a source_uri naming a folder of Parquet parts, each failed row with its part', async () => {
    const folder = join(imports, 'run-7');
    await mkdir(folder);
    writeMatchParquet(join(folder, 'part-0.parquet'), 30, { rowGroupRows: 10, codec: 'SNAPPY' });
    writeMatchParquet(join(folder, 'part-1.parquet'), 30, {
      rowGroupRows: 10,
      codec: 'ZSTD',
      row: (i, row) => (i === 4 ? { ...row, compatibility_score: null } : row),
    });
    await writeFile(join(folder, '_SUCCESS'), '');

    const created = await call('POST', '/v1/imports', {
      headers: { 'idempotency-key': nextKey(), 'content-type': 'application/json' },
      body: JSON.stringify({
        resource_type: 'matches',
        format: 'parquet',
        domain_id: DOMAIN,
        group_id: 'g2',
        source_uri: `${folder}/`,
      }),
    });
    assert.equal(created.status, 202, JSON.stringify(created.json));
    const job = await finished(created.json.job_id as string);

    assert.equal(job.status, 'failed');
    assert.equal(job.total_records, 60);
    assert.equal(job.fail_count, 1);
    assert.deepEqual(job.errors, [
      { line: 35, errors: ['compatibility_score is empty'], part: 'part-1.parquet', part_row: 4 },
    ]);
  });

  it('idempotency: same key and request → the original job (200), another request → 422, in flight → 409, expired → new', async () => {
    const k = nextKey();
    const body = 'username\njill\n';
    const first = await rawImport('users', 'csv', body, { 'idempotency-key': k });
    const repeat = await rawImport('users', 'csv', body, { 'idempotency-key': k });
    assert.equal(first.status, 202);
    assert.equal(repeat.status, 200);
    assert.deepEqual(repeat.json, first.json);
    const other = await rawImport('users', 'csv', 'username\nkate\n', { 'idempotency-key': k });
    assert.equal(other.status, 422);
    assert.equal(other.json.code, 'IDEMPOTENCY_KEY_REUSED');
    const missing = await call('POST', '/v1/exports', {
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(missing.json.code, 'IDEMPOTENCY_KEY_REQUIRED');

    // A twin still being processed holds its key.
    await pool.query(
      `INSERT INTO api_idempotency_keys (domain_id, key, request_hash, status, locked_until, expires_at)
       VALUES ($1, 'racing', repeat('0', 64), 'IN_PROGRESS', now() + interval '1 minute', now() + interval '1 day')`,
      [DOMAIN],
    );
    const racing = await rawImport('users', 'csv', body, { 'idempotency-key': 'racing' });
    assert.equal(racing.status, 409);
    assert.equal(racing.json.code, 'IDEMPOTENCY_KEY_IN_USE');

    // After 24 h the key is free again.
    await pool.query(
      `UPDATE api_idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`,
      [k],
    );
    const later = await rawImport('users', 'csv', body, { 'idempotency-key': k });
    assert.equal(later.status, 202);
    assert.notEqual(later.json.job_id, first.json.job_id);
    await drain();
  });

  it('pages through every row error with the cursor', async () => {
    const lines = ['username,preferred_min_age'];
    for (let i = 0; i < 250; i += 1) lines.push(i % 2 === 0 ? `u${i},5` : `u${i},30`);
    const created = await rawImport('users', 'csv', `${lines.join('\n')}\n`);
    await drain();
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(
        'GET',
        `/v1/imports/${created.json.job_id}?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      seen.push(...(page.json.errors as { line: number }[]).map((e) => e.line));
      cursor = page.json.next_cursor as string | undefined;
    } while (cursor);
    assert.equal(seen.length, 125);
    assert.deepEqual(
      seen,
      Array.from({ length: 125 }, (_, i) => 2 + i * 2),
    );
    assert.equal((await call('GET', `/v1/imports/${created.json.job_id}?cursor=bogus`)).status, 400);
  });

  it('takes local source paths only inside the import folder (issue 21: any readable file was imported)', async () => {
    await writeFile(join(dir, 'outside.csv'), 'username\nmallory\n');
    await symlink(join(dir, 'outside.csv'), join(imports, 'link.csv'));
    for (const source of [
      '/etc/passwd',
      'file:///etc/passwd',
      `${imports}/../outside.csv`,
      join(imports, 'link.csv'),
      join(dir, 'missing.csv'),
    ]) {
      const refused = await bySourceUri(source);
      assert.equal(refused.status, 400, source);
      assert.equal(refused.json.code, 'SOURCE_NOT_ALLOWED', source);
    }
    const missing = await bySourceUri(join(imports, 'missing.csv'));
    assert.equal(missing.json.code, 'SOURCE_NOT_FOUND');
    const other = await bySourceUri('ftp://example.com/users.csv');
    assert.equal(other.json.code, 'INVALID_SOURCE');
  });

  it('with a token: 401 without it, the domain header trusted with it; without a token the header is ignored', async () => {
    const guardedCall = apiClient(guarded.url);
    const jobPath = '/v1/imports/00000000-0000-4000-8000-000000000000';
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, TOKEN]) {
      const refused = await guardedCall('GET', jobPath, authorization ? { headers: { authorization } } : {});
      assert.equal(refused.status, 401, authorization);
      assert.equal(refused.json.code, 'UNAUTHORIZED');
    }
    const asDomain = { authorization: `Bearer ${TOKEN}`, [LOCAL_DOMAIN_HEADER]: DOMAIN };
    assert.equal((await guardedCall('GET', jobPath, { headers: asDomain })).status, 404);
    const foreign = await guardedCall(
      'POST',
      `/v1/imports?resource_type=users&format=csv&domain_id=${OTHER}&group_id=g1`,
      {
        headers: { ...asDomain, 'idempotency-key': nextKey(), 'content-type': 'text/csv' },
        body: 'username\nx\n',
      },
    );
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json.code, 'FORBIDDEN');
    const theirs = await rawImport('users', 'csv', 'username\nzed\n', {}, OTHER);
    await drain();
    const read = await guardedCall('GET', `/v1/imports/${theirs.json.job_id}`, { headers: asDomain });
    assert.equal(read.status, 403);
    const exported = await guardedCall(
      'GET',
      `/v1/exports?resource_type=users&format=csv&domain_id=${OTHER}`,
      { headers: asDomain },
    );
    assert.equal(exported.status, 403);
    // Without a token the header is nobody's word: the loopback caller is trusted for the domain it names.
    const unguarded = await call('GET', `/v1/imports/${theirs.json.job_id}`, {
      headers: { [LOCAL_DOMAIN_HEADER]: DOMAIN },
    });
    assert.equal(unguarded.status, 200);
  });

  it('refuses to listen beyond loopback without a token', async () => {
    const context = localApiContext(await runtimeDeps());
    await assert.rejects(startApiServer(context, { port: 0, host: '0.0.0.0' }), {
      name: 'ConfigurationError',
    });
  });

  it('says why a job failed for a reason other than its rows (issue 21: status failed, errors [], nothing else)', async () => {
    const empty = await finished((await rawImport('users', 'ndjson', '\n')).json.job_id as string);
    assert.equal(empty.status, 'failed');
    assert.deepEqual(empty.errors, []);
    assert.equal((empty.failure as { code: string }).code, 'EMPTY_FILE');
    const noReference = await finished(
      (await rawImport('nodes', 'csv', 'city\nPune\n')).json.job_id as string,
    );
    assert.equal(noReference.status, 'failed');
    const failure = noReference.failure as { code: string; message: string };
    assert.equal(failure.code, 'INVALID_FILE');
    assert.match(failure.message, /reference_id/);
  });

  it('says why an export failed, with its code and never its internal message', async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO export_jobs (domain_id, resource_type, format, triggered_by, status, request)
       VALUES ($1, 'users', 'csv', 'api', 'PROCESSING', '{}'::jsonb) RETURNING id`,
      [DOMAIN],
    );
    const jobId = rows[0]?.id as string;
    await failExport(await runtimeDeps(), jobId, new DatabaseUnavailableError('pool at 10.0.0.7 refused'));
    const job = await finished(jobId, 'exports');
    assert.equal(job.status, 'failed');
    const failure = job.failure as { code: string; message: string };
    assert.equal(failure.code, 'DATABASE_UNAVAILABLE');
    assert.doesNotMatch(failure.message, /10\.0\.0\.7/);
  });

  it('refuses bodies over the limit (413) and unknown jobs (404)', async () => {
    const big = await rawImport('users', 'csv', `username\n${'a'.repeat(1024 * 1024 + 10)}\n`);
    assert.equal(big.status, 413);
    assert.equal(big.json.code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await call('GET', '/v1/imports/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  it('streams exports as CSV and NDJSON with filters and fields, and says when a stream would be too large', async () => {
    const csv = await call(
      'GET',
      `/v1/exports?resource_type=users&format=csv&domain_id=${DOMAIN}&group_id=g2&fields=username,group_id`,
    );
    assert.equal(csv.status, 200);
    assert.equal(csv.text, 'username,group_id\ndave,g2\n');
    const ndjson = await call(
      'GET',
      `/v1/exports?resource_type=nodes&format=ndjson&domain_id=${DOMAIN}&fields=reference_id,metadata`,
    );
    const rows = ndjson.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(rows.some((r) => r.reference_id === 'n1' && r.metadata.city === 'Pune'));
    const future = await call(
      'GET',
      `/v1/exports?resource_type=users&format=csv&domain_id=${DOMAIN}&updated_since=2999-01-01T00:00:00Z`,
    );
    assert.equal(
      future.text,
      'username,group_id,display_name,gender,date_of_birth,location,intent,bio,smokes,drinks,wants_kids,education,religion,occupation,preferred_genders,preferred_min_age,preferred_max_age,relationship_type,open_to_long_distance,ready_for_matching,created_at,updated_at\n',
    );
    const unknown = await call(
      'GET',
      `/v1/exports?resource_type=users&format=csv&domain_id=${DOMAIN}&fields=password`,
    );
    assert.equal(unknown.json.code, 'UNKNOWN_FIELD');
    await pool.query(
      `INSERT INTO nodes (reference_id, group_id, domain_id) SELECT 'bulk' || i, 'big', $1 FROM generate_series(1, 5001) i`,
      [DOMAIN],
    );
    const tooLarge = await call('GET', `/v1/exports?resource_type=nodes&format=csv&domain_id=${DOMAIN}`);
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.code, 'EXPORT_TOO_LARGE');
  });

  it('exports asynchronously to a file with a download link, idempotently', async () => {
    const k = nextKey();
    const body = JSON.stringify({
      resource_type: 'users',
      format: 'ndjson',
      domain_id: DOMAIN,
      filters: { group_id: 'g1' },
      fields: ['username'],
    });
    const created = await call('POST', '/v1/exports', {
      headers: { 'idempotency-key': k, 'content-type': 'application/json' },
      body,
    });
    assert.equal(created.status, 202);
    const repeat = await call('POST', '/v1/exports', {
      headers: { 'idempotency-key': k, 'content-type': 'application/json' },
      body,
    });
    assert.equal(repeat.status, 200);
    assert.equal(repeat.json.job_id, created.json.job_id);
    const job = await finished(created.json.job_id as string, 'exports');
    assert.equal(job.status, 'completed');
    const expected = await pool.query(
      `SELECT count(*)::int AS n FROM users WHERE domain_id = $1 AND group_id = 'g1'`,
      [DOMAIN],
    );
    assert.equal(job.total_records, expected.rows[0].n);
    const file = await readFile(fileURLToPath(job.download_url as string), 'utf8');
    assert.equal(file.trim().split('\n').length, expected.rows[0].n);
    assert.deepEqual(Object.keys(JSON.parse(file.split('\n')[0] ?? '{}')), ['username']);
  });
});
