import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { type ApiExportJob, createExportJob } from '../../../lib/api/export-jobs.ts';
import { type ApiImportJob, createImportJob, runApiImportInProcess } from '../../../lib/api/import-jobs.ts';
import { StorageUnavailableError } from '../../../lib/errors.ts';
import type { RuntimeDeps } from '../../../lib/jobs/deps.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../../lib/runtime/deps.ts';
import type { ObjectStore } from '../../../lib/storage/object-store.ts';
import { testDatabase } from '../../support/database.ts';

const DOMAIN = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
const USERS = ['ann', 'ben', 'cat', 'dan', 'eve'];
const CSV = `username\n${USERS.join('\n')}\n`;

type Invoke = (event: unknown, context: Context) => Promise<void>;

/** What the Lambda runtime gives a response-streaming handler; job runs write nothing to the stream. */
function installLambdaGlobals(): void {
  (globalThis as unknown as { awslambda: unknown }).awslambda = {
    streamifyResponse:
      (handler: (event: unknown, stream: Writable, context: Context) => Promise<void>): Invoke =>
      (event, context) =>
        handler(event, new PassThrough(), context),
    HttpResponseStream: { from: (stream: Writable) => stream },
  };
}

const lambdaContext = { functionName: 'matchbridge-api', awsRequestId: 'req-1' } as unknown as Context;

/**
 * Makes the next `read` of the store deliver the first `lines` lines of the file and then, once `ready()`
 * holds (e.g. some rows are committed), fail as a dropped S3 connection does; later reads are untouched.
 */
function failNextRead(
  store: ObjectStore,
  lines: number,
  ready: () => Promise<boolean> = async () => true,
): void {
  const read = store.read.bind(store);
  store.read = async (uri) => {
    store.read = read;
    const head = CSV.split('\n').slice(0, lines).join('\n');
    return Readable.from(
      (async function* () {
        yield Buffer.from(`${head}\n`);
        while (!(await ready())) await setTimeout(10);
        throw new StorageUnavailableError(`short read of ${uri}`, { uri });
      })(),
    );
  };
}

describe('jobs the API accepted: transient failures are retried, permanent ones fail the job', () => {
  let dir: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;
  let deps: RuntimeDeps;
  let invoke: Invoke;
  let usersFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-api-retries-'));
    const db = await testDatabase('api_job_retries');
    pool = db.pool;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(dir, 'home'),
      AWS_LAMBDA_FUNCTION_NAME: 'matchbridge-api',
      // Two rows per transaction: an interrupted run has committed some rows before it fails.
      DB_BATCH_ROWS: '2',
    });
    await pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [DOMAIN]);
    await pool.query(`INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, 'g', 'G')`, [
      DOMAIN,
    ]);
    usersFile = join(dir, 'users.csv');
    await writeFile(usersFile, CSV);
    deps = await runtimeDeps();
    installLambdaGlobals();
    ({ handler: invoke } = (await import('../../../functions/api/handler.ts')) as unknown as {
      handler: Invoke;
    });
  });
  after(async () => {
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  const usersImport = async (uri: string): Promise<ApiImportJob> => {
    const job = {
      jobId: randomUUID(),
      resourceType: 'users',
      format: 'csv',
      domainId: DOMAIN,
      groupId: 'g',
      uri,
    };
    await createImportJob(deps, job as ApiImportJob);
    return job as ApiImportJob;
  };
  const importRow = async (jobId: string) =>
    (
      await pool.query<{
        status: string;
        total: number;
        success_count: number;
        failure_reason: string | null;
      }>('SELECT status, total::int, success_count::int, failure_reason FROM import_jobs WHERE id = $1', [
        jobId,
      ])
    ).rows[0];
  const usersLoaded = async () =>
    Number((await pool.query('SELECT count(*) FROM users WHERE domain_id = $1', [DOMAIN])).rows[0].count);

  it('on Lambda, rejects the invocation of a transient failure and leaves the job running; a rerun completes it', async () => {
    await pool.query('DELETE FROM users');
    const job = await usersImport(usersFile);
    // Fails after the first transaction (two rows) committed.
    failNextRead(deps.store, 4, async () => (await usersLoaded()) >= 2);

    await assert.rejects(invoke({ matchbridgeApiJob: 'import', job }, lambdaContext), {
      name: 'StorageUnavailableError',
    });
    const interrupted = await importRow(job.jobId);
    const partial = await usersLoaded();
    await invoke({ matchbridgeApiJob: 'import', job }, lambdaContext);
    const rerun = await importRow(job.jobId);

    assert.equal(interrupted?.status, 'PROCESSING');
    assert.match(interrupted?.failure_reason ?? '', /^retrying after StorageUnavailableError/);
    assert.ok(partial > 0 && partial < USERS.length, `the first run committed ${partial} rows`);
    assert.deepEqual(
      {
        status: rerun?.status,
        total: rerun?.total,
        success: rerun?.success_count,
        reason: rerun?.failure_reason,
      },
      { status: 'COMPLETED', total: USERS.length, success: USERS.length, reason: null },
    );
    assert.equal(await usersLoaded(), USERS.length);
  });

  it('on Lambda, fails the job of a permanent failure and ends the invocation: nothing to retry', async () => {
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, 'username\n');
    const job = await usersImport(empty);

    await invoke({ matchbridgeApiJob: 'import', job }, lambdaContext);

    const row = await importRow(job.jobId);
    assert.equal(row?.status, 'FAILED');
    assert.match(row?.failure_reason ?? '', /^InvalidFileError/);
  });

  it('on Lambda, rejects an export whose store failed and leaves it running; a rerun completes it', async () => {
    const job: ApiExportJob = { jobId: randomUUID(), resourceType: 'users', format: 'csv', domainId: DOMAIN };
    await createExportJob(deps, job);
    const write = deps.store.write.bind(deps.store);
    deps.store.write = async (uri) => {
      deps.store.write = write;
      throw new StorageUnavailableError(`upload of ${uri} failed`, { uri });
    };
    const exportRow = async () =>
      (await pool.query<{ status: string }>('SELECT status FROM export_jobs WHERE id = $1', [job.jobId]))
        .rows[0];

    await assert.rejects(invoke({ matchbridgeApiJob: 'export', job }, lambdaContext), {
      name: 'StorageUnavailableError',
    });
    const interrupted = await exportRow();
    await invoke({ matchbridgeApiJob: 'export', job }, lambdaContext);

    assert.equal(interrupted?.status, 'PROCESSING');
    assert.equal((await exportRow())?.status, 'COMPLETED');
  });

  it('in process, retries a transient failure itself and completes the job', async () => {
    await pool.query('DELETE FROM users');
    const job = await usersImport(usersFile);
    failNextRead(deps.store, 3);

    await runApiImportInProcess(deps, job, () => Promise.reject(new Error('no pipeline')), {
      attempts: 2,
      firstDelayMs: 0,
    });

    const row = await importRow(job.jobId);
    assert.equal(row?.status, 'COMPLETED');
    assert.equal(row?.total, USERS.length);
    assert.equal(await usersLoaded(), USERS.length);
  });

  it('in process, fails the job with the transient reason once its attempts are spent', async () => {
    const job = await usersImport(usersFile);
    failNextRead(deps.store, 2);

    await runApiImportInProcess(deps, job, () => Promise.reject(new Error('no pipeline')), {
      attempts: 1,
      firstDelayMs: 0,
    });

    const row = await importRow(job.jobId);
    assert.equal(row?.status, 'FAILED');
    assert.match(row?.failure_reason ?? '', /^StorageUnavailableError/);
  });
});
