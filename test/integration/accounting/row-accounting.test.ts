import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { type ApiServer, startApiServer } from '../../../lib/api/server.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { ingestObjectCreated } from '../../../lib/ingest/object-created.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { localApiContext } from '../../../lib/local/api-context.ts';
import { type LocalIngest, openLocalIngest } from '../../../lib/local/ingest.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import { apiClient } from '../../support/api-client.ts';
import { cli } from '../../support/cli.ts';
import { testDatabase } from '../../support/database.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';
import { objectCreatedEvent } from '../../support/s3-events.ts';

/**
 * The same small sets of good and bad records through every import path that takes their kind: each path
 * must count every record once (total = success + failed + duplicates), name each failed record by its line
 * with the same code, and end the job the same way. The expected figures are written out by hand.
 */

const DOMAIN = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
const MATCH_TOPIC = 'accounting-matches';

/** What a path reports of a job: its figures, its failed lines as `line:CODE`, its final status. */
interface Accounting {
  readonly status: string;
  readonly total: number;
  readonly success: number;
  readonly failed: number;
  readonly duplicates: number;
  readonly failures: readonly string[];
}

// Nodes: two good rows, a row without a reference id, a duplicate of the first (last wins, counted once),
// and a row that is not a record of the file (a wrong field count; a line that is not JSON).
const NODES_CSV = 'reference_id,city\nn1,Pune\n,Delhi\nn2,Goa\nn1,Mumbai\nn3,Agra,extra\n';
const NODES_NDJSON =
  '{"reference_id":"n1"}\n{"reference_id":""}\n{"reference_id":"n2"}\n{"reference_id":"n1"}\nnot json\n';
const NODES_CSV_EXPECTED: Accounting = {
  status: 'FAILED',
  total: 5,
  success: 2,
  failed: 2,
  duplicates: 1,
  failures: ['3:MISSING_REFERENCE', '6:WRONG_FIELD_COUNT'],
};
const NODES_NDJSON_EXPECTED: Accounting = {
  status: 'FAILED',
  total: 5,
  success: 2,
  failed: 2,
  duplicates: 1,
  failures: ['2:MISSING_REFERENCE', '5:INVALID_ROW'],
};

// Users: the same shape of records, keyed by username.
const USERS_CSV = 'username,display_name\nu1,Asha\n,Nobody\nu2,Ravi\nu1,Asha K\nu3,Extra,x\n';
const USERS_NDJSON = '{"username":"u1"}\n{"username":""}\n{"username":"u2"}\n{"username":"u1"}\nnot json\n';
const USERS_CSV_EXPECTED: Accounting = {
  status: 'FAILED',
  total: 5,
  success: 2,
  failed: 2,
  duplicates: 1,
  failures: ['3:INVALID_ROW', '6:INVALID_ROW'],
};
const USERS_NDJSON_EXPECTED: Accounting = {
  ...USERS_CSV_EXPECTED,
  failures: ['2:INVALID_ROW', '5:INVALID_ROW'],
};

// Matches: two good pairs, a pair without its matched participant, a duplicate pair, a self match.
const MATCH_ROWS = [
  { participant_id: 'p1', matched_participant_id: 'p2', compatibility_score: 0.9 },
  { participant_id: 'p1', matched_participant_id: null, compatibility_score: 0.5 },
  { participant_id: 'p2', matched_participant_id: 'p3', compatibility_score: 0.7 },
  { participant_id: 'p1', matched_participant_id: 'p2', compatibility_score: 0.8 },
  { participant_id: 'p3', matched_participant_id: 'p3', compatibility_score: 0.4 },
] as const;
const MATCHES_CSV =
  'participant_id,matched_participant_id,compatibility_score\np1,p2,0.9\np1,,0.5\np2,p3,0.7\np1,p2,0.8\np3,p3,0.4\n';
const MATCHES_NDJSON = `${MATCH_ROWS.map((row) => JSON.stringify(row)).join('\n')}\n`;
// A Parquet row's line is its 1-based position in the file.
const MATCHES_BY_ROW_EXPECTED: Accounting = {
  status: 'FAILED',
  total: 5,
  success: 2,
  failed: 2,
  duplicates: 1,
  failures: ['2:MISSING_PARTICIPANT', '5:SELF_MATCH'],
};
const MATCHES_CSV_EXPECTED: Accounting = {
  ...MATCHES_BY_ROW_EXPECTED,
  failures: ['3:MISSING_PARTICIPANT', '6:SELF_MATCH'],
};

describe('row accounting: one rule on every import path', () => {
  let dir: string;
  let pool: pg.Pool;
  let url: string;
  let closeDb: () => Promise<void>;
  let s3: TestS3;
  let ingest: LocalIngest;
  let server: ApiServer;
  let drain: () => Promise<void>;
  let call: ReturnType<typeof apiClient>;
  let cliEnv: Record<string, string>;
  const files: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-accounting-'));
    s3 = await startTestS3('mb-accounting');
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    const db = await testDatabase('accounting');
    pool = db.pool;
    url = db.url;
    closeDb = db.close;
    const home = join(dir, 'home');
    const config = initLocalConfig({
      DATABASE_URL: url,
      MATCHBRIDGE_HOME: home,
      S3_ENDPOINT: s3.endpoint,
      MATCH_IMPORT_TOPICS: MATCH_TOPIC,
    });
    cliEnv = { DATABASE_URL: url, MATCHBRIDGE_HOME: home, POWERTOOLS_METRICS_DISABLED: 'true' };
    ingest = openLocalIngest(config);
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    call = apiClient(server.url);
    await pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'accounting')`, [DOMAIN]);
    for (const [name, text] of Object.entries({
      'nodes.csv': NODES_CSV,
      'users.csv': USERS_CSV,
      'users.ndjson': USERS_NDJSON,
    })) {
      files[name] = join(dir, name);
      await writeFile(files[name], text);
    }
    files['matches.parquet'] = join(dir, 'matches.parquet');
    writeMatchParquet(files['matches.parquet'], MATCH_ROWS.length, {
      rowGroupRows: 2,
      row: (i, row) => ({ ...row, ...MATCH_ROWS[i], rank: null }),
    });
  });
  after(async () => {
    await server?.close();
    await drain?.();
    await closeRuntimeDeps();
    await closeDb?.();
    await s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A group of its own per case (created as a matching group, with the match participants as nodes). */
  const newGroup = async (name: string): Promise<string> => {
    const group = `${name}-${randomUUID().slice(0, 8)}`;
    await pool.query(
      `INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, $2::text, $2::text)`,
      [DOMAIN, group],
    );
    await pool.query(
      `INSERT INTO nodes (reference_id, group_id, domain_id) SELECT p, $2, $1 FROM unnest($3::text[]) AS p`,
      [DOMAIN, group, ['p1', 'p2', 'p3']],
    );
    return group;
  };

  /** The job as recorded: its figures and its failed rows (line and code). */
  const recorded = async (jobId: string): Promise<Accounting> => {
    const job = await pool.query<{
      status: string;
      total: string;
      success_count: string;
      failed_count: string;
      duplicate_count: string;
    }>('SELECT status, total, success_count, failed_count, duplicate_count FROM import_jobs WHERE id = $1', [
      jobId,
    ]);
    const row = job.rows[0];
    assert.ok(row, `job ${jobId} recorded`);
    const errors = await pool.query<{ line: string; code: string }>(
      'SELECT line, code FROM import_job_errors WHERE job_id = $1 ORDER BY line',
      [jobId],
    );
    return {
      status: row.status,
      total: Number(row.total),
      success: Number(row.success_count),
      failed: Number(row.failed_count),
      duplicates: Number(row.duplicate_count),
      failures: errors.rows.map((e) => `${e.line}:${e.code}`),
    };
  };

  /** A job run by a command: its printed status message must agree with the record. */
  const byCommand = async (args: string[]): Promise<Accounting> => {
    const run = await cli([...args, '--json'], cliEnv);
    assert.ok(run.code === 0 || run.code === 1, run.stderr);
    const message = JSON.parse(run.stdout) as { jobId: string; status: string; total: number };
    const job = await recorded(message.jobId);
    assert.deepEqual([message.status, message.total], [job.status, job.total]);
    assert.equal(run.code, job.status === 'COMPLETED' ? 0 : 1);
    return job;
  };

  /** A job run through the API: figures and lines as `GET /v1/imports/{id}` shows them, codes as recorded. */
  const byApi = async (resource: string, format: string, body: string | Uint8Array): Promise<Accounting> => {
    const group = await newGroup(`api-${resource}-${format}`);
    const created = await call(
      'POST',
      `/v1/imports?resource_type=${resource}&domain_id=${DOMAIN}&group_id=${group}${format === 'parquet' ? '' : `&format=${format}`}`,
      {
        headers: {
          'idempotency-key': randomUUID(),
          'content-type':
            { csv: 'text/csv', ndjson: 'application/x-ndjson', parquet: 'application/vnd.apache.parquet' }[
              format
            ] ?? '',
        },
        body,
      },
    );
    assert.equal(created.status, 202, created.text);
    const jobId = String(created.json.job_id);
    await drain();
    const reply = await call('GET', `/v1/imports/${jobId}`);
    assert.equal(reply.status, 200);
    const job = await recorded(jobId);
    const shown = reply.json as {
      status: string;
      total_records: number;
      success_count: number;
      fail_count: number;
      errors: { line: number }[];
    };
    return {
      status: shown.status.toUpperCase(),
      total: shown.total_records,
      success: shown.success_count,
      failed: shown.fail_count,
      duplicates: job.duplicates,
      failures: shown.errors.map((e, i) => `${e.line}:${job.failures[i]?.split(':')[1]}`),
    };
  };

  /** A job started by a Kafka request, run to its end by the local ingest. */
  let offset = 0;
  const byKafka = async (
    request: Record<string, unknown>,
    topic = 'accounting-users',
  ): Promise<Accounting> => {
    // A record's job id comes from where it sits in its topic: each request its own offset.
    offset += 1;
    const outcome = await ingestRecords(
      mskEvent([mskRecord(JSON.stringify({ domainId: DOMAIN, ...request }), { topic, offset })]),
      ingest.deps,
    );
    assert.deepEqual(outcome.deadLettered, []);
    const [started] = outcome.started;
    assert.ok(started);
    return recorded(started.jobId);
  };

  describe('nodes', () => {
    it('CLI file import (CSV)', async () => {
      const group = await newGroup('cli-nodes');
      const job = await byCommand([
        'import',
        'nodes',
        files['nodes.csv'] ?? '',
        '--domain',
        DOMAIN,
        '--group',
        group,
      ]);
      assert.deepEqual(job, NODES_CSV_EXPECTED);
    });

    it('Kafka request (CSV file)', async () => {
      const groupId = await newGroup('kafka-nodes');
      const job = await byKafka({ groupId, filePath: files['nodes.csv'], fileName: 'nodes.csv' });
      assert.deepEqual(job, NODES_CSV_EXPECTED);
    });

    it('Kafka request (reference list): an empty id fails, a repeated one is a duplicate', async () => {
      const groupId = await newGroup('kafka-references');
      const job = await byKafka({ groupId, referenceIds: ['n1', '', 'n2', 'n1'] });
      // The staged list is a one-column CSV: id n is on line n + 1.
      assert.deepEqual(job, {
        status: 'FAILED',
        total: 4,
        success: 2,
        failed: 1,
        duplicates: 1,
        failures: ['3:MISSING_REFERENCE'],
      });
    });

    it('upload (object created)', async () => {
      const group = await newGroup('upload-nodes');
      const key = `incoming/nodes/${DOMAIN}/${group}/nodes.csv`;
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: NODES_CSV }));
      const outcome = await ingestObjectCreated(objectCreatedEvent(key, { bucket: s3.bucket }), ingest.deps);
      const [started] = outcome.started;
      assert.ok(started);
      assert.deepEqual(await recorded(started.jobId), NODES_CSV_EXPECTED);
    });

    it('API CSV', async () => {
      assert.deepEqual(await byApi('nodes', 'csv', NODES_CSV), NODES_CSV_EXPECTED);
    });

    it('API NDJSON', async () => {
      assert.deepEqual(await byApi('nodes', 'ndjson', NODES_NDJSON), NODES_NDJSON_EXPECTED);
    });

    it('API NDJSON: an empty reference id and a line that is not JSON fail the job, none vanishes (issue 21)', async () => {
      const job = await byApi('nodes', 'ndjson', '{"reference_id":""}\n{"reference_id":"ok2"}\nnot json\n');
      assert.deepEqual(job, {
        status: 'FAILED',
        total: 3,
        success: 1,
        failed: 2,
        duplicates: 0,
        failures: ['1:MISSING_REFERENCE', '3:INVALID_ROW'],
      });
    });
  });

  describe('users', () => {
    it('CLI CSV', async () => {
      const group = await newGroup('cli-users-csv');
      const job = await byCommand([
        'import',
        'users',
        files['users.csv'] ?? '',
        '--domain',
        DOMAIN,
        '--group',
        group,
      ]);
      assert.deepEqual(job, USERS_CSV_EXPECTED);
    });

    it('CLI NDJSON', async () => {
      const group = await newGroup('cli-users-ndjson');
      const job = await byCommand([
        'import',
        'users',
        files['users.ndjson'] ?? '',
        '--domain',
        DOMAIN,
        '--group',
        group,
      ]);
      assert.deepEqual(job, USERS_NDJSON_EXPECTED);
    });

    it('API CSV', async () => {
      assert.deepEqual(await byApi('users', 'csv', USERS_CSV), USERS_CSV_EXPECTED);
    });

    it('API NDJSON', async () => {
      assert.deepEqual(await byApi('users', 'ndjson', USERS_NDJSON), USERS_NDJSON_EXPECTED);
    });
  });

  describe('matches', () => {
    it('CLI Parquet', async () => {
      const group = await newGroup('cli-matches');
      const job = await byCommand([
        'import',
        'matches',
        files['matches.parquet'] ?? '',
        '--domain',
        DOMAIN,
        '--group',
        group,
      ]);
      assert.deepEqual(job, MATCHES_BY_ROW_EXPECTED);
    });

    it('Kafka request (Parquet)', async () => {
      const groupId = await newGroup('kafka-matches');
      const job = await byKafka(
        {
          groupId,
          filePath: files['matches.parquet'],
          fileName: 'matches.parquet',
          contentType: 'application/vnd.apache.parquet',
        },
        MATCH_TOPIC,
      );
      assert.deepEqual(job, MATCHES_BY_ROW_EXPECTED);
    });

    it('API Parquet', async () => {
      const parquet = await readFile(files['matches.parquet'] ?? '');
      assert.deepEqual(await byApi('matches', 'parquet', parquet), MATCHES_BY_ROW_EXPECTED);
    });

    it('API CSV', async () => {
      assert.deepEqual(await byApi('matches', 'csv', MATCHES_CSV), MATCHES_CSV_EXPECTED);
    });

    it('API NDJSON', async () => {
      assert.deepEqual(await byApi('matches', 'ndjson', MATCHES_NDJSON), MATCHES_BY_ROW_EXPECTED);
    });
  });
});
