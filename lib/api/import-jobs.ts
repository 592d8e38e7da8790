import { query } from '../db/query.ts';
import { InvalidFileError, isTransient, jobFailureOf } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { writeFailedReport } from '../jobs/job-reports.ts';
import { completeJob, failJob } from '../jobs/job-repository.ts';
import { accountRows, importStatus, type RowAccount, rowFailureReason } from '../jobs/row-accounting.ts';
import { loadMatches } from '../matches/load-matches.ts';
import type { ImportExecutionInput } from '../model/types.ts';
import { logger, logJob } from '../observability/logger.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import { loadUsers, type UserImportRow } from '../users/load-users.ts';
import { validateUserRow } from '../users/user-row.ts';
import { type InProcessRetry, reasonOf, retryTransient } from './job-retries.ts';
import { matchRows, withKnownParticipants } from './match-rows.ts';
import { convertNodesNdjson } from './ndjson-nodes.ts';
import { csvRows, ndjsonRows, type SourceRow } from './row-sources.ts';

export const RESOURCE_TYPES = ['users', 'nodes', 'matches'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
export const IMPORT_FORMATS = ['csv', 'ndjson', 'parquet'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** The formats each resource can be imported from. */
export const IMPORTABLE: Readonly<Record<ResourceType, readonly ImportFormat[]>> = {
  users: ['csv', 'ndjson'],
  nodes: ['csv', 'ndjson'],
  matches: ['parquet', 'csv', 'ndjson'],
};

/** An import the API accepted: what its job runs on. */
export interface ApiImportJob {
  readonly jobId: string;
  readonly resourceType: ResourceType;
  readonly format: ImportFormat;
  readonly domainId: string;
  readonly groupId: string;
  /** The file: staged upload, or the caller's `source_uri`. */
  readonly uri: string;
  /** A dry run (nodes and Parquet matches: the imports that run through the pipeline). */
  readonly dryRun?: boolean;
  /** The as-of of its rows (ISO), kept on the job row: the plan and the API's own match load take it there. */
  readonly asOf?: string;
}

/** Rows per users transaction at most: user rows are wide. */
const USERS_BATCH_ROWS = 5000;

/** Source of a job whose file is still to be uploaded to its `upload_url`. */
export const AWAITING_UPLOAD = 'upload:pending';

/** Records the job (PENDING, origin `api` unless given) so that it can be read back at once. */
export async function createImportJob(
  deps: RuntimeDeps,
  job: Omit<ApiImportJob, 'uri'> & { readonly uri: string | undefined },
  origin = 'api',
): Promise<{ createdAt: Date }> {
  const result = await query<{ created_at: Date }>(
    deps.pool,
    `INSERT INTO import_jobs (id, kind, domain_id, group_id, status, source, origin, format, dry_run, as_of)
     VALUES ($1, $2, $3, $4, 'PENDING', $5, $7, $6, $8, $9)
     RETURNING created_at`,
    [
      job.jobId,
      job.resourceType,
      job.domainId,
      job.groupId,
      job.uri ?? AWAITING_UPLOAD,
      job.format,
      origin,
      job.dryRun === true,
      job.asOf ?? null,
    ],
  );
  return { createdAt: result.rows[0]?.created_at ?? new Date() };
}

/** Where an uploaded file is staged before its job reads it. */
export function uploadUri(deps: RuntimeDeps, jobId: string): string {
  return pipelineObjectUri(deps.config, 'staging', jobId, 'upload');
}

/** Runs an import through the pipeline of its kind (the state machine: locally in-process, on AWS started). */
export type PipelineStarter = (input: ImportExecutionInput) => Promise<unknown>;

/**
 * Runs the job of an accepted import. Users are validated and loaded here; nodes (CSV, or NDJSON converted to
 * CSV first) and matches (Parquet) go through their import state machines. A permanent failure marks the job
 * FAILED with its reason. A transient one ({@link isTransient}: the database or the store unavailable, the
 * deadline reached) leaves the job PENDING or PROCESSING with the error noted as its reason and is rethrown,
 * so that whoever runs the job retries it (on AWS Lambda's asynchronous invocation, then its dead-letter
 * queue; locally {@link runApiImportInProcess}). Running the same job again is safe: loads are upserts keyed
 * on the job's rows, and the job's figures are those of its last run.
 *
 * @throws the transient error, once noted on the job.
 */
export async function runApiImport(
  deps: RuntimeDeps,
  job: ApiImportJob,
  startPipeline: PipelineStarter,
): Promise<void> {
  const log = logJob(job);
  try {
    await importOnce(deps, job, startPipeline);
  } catch (error) {
    if (isTransient(error)) {
      log.warn('API import interrupted; to be retried', { error: error as Error });
      await noteRetry(deps, job.jobId, error);
      throw error;
    }
    log.error('API import failed', { error: error as Error });
    await failJob(deps.pool, job.jobId, reasonOf(error), jobFailureOf(error));
  }
}

/**
 * Runs an accepted import in this process (`matchbridge api`, `import users`), where nothing retries it from
 * outside: a transient failure is retried as {@link retryTransient} says, then the job is FAILED with it.
 */
export function runApiImportInProcess(
  deps: RuntimeDeps,
  job: ApiImportJob,
  startPipeline: PipelineStarter,
  retry?: InProcessRetry,
): Promise<void> {
  return retryTransient(
    () => runApiImport(deps, job, startPipeline),
    async (error) => {
      await failJob(deps.pool, job.jobId, reasonOf(error), jobFailureOf(error));
    },
    retry,
  );
}

async function importOnce(
  deps: RuntimeDeps,
  job: ApiImportJob,
  startPipeline: PipelineStarter,
): Promise<void> {
  if (job.resourceType === 'users') {
    await importUsers(deps, job);
    return;
  }
  const base = {
    jobId: job.jobId,
    domainId: job.domainId,
    groupId: job.groupId,
    origin: 'api',
    ...(job.dryRun ? { dryRun: true } : {}),
  } as const;
  if (job.resourceType === 'matches' && job.format !== 'parquet') {
    await importMatchRecords(deps, job);
    return;
  }
  if (job.resourceType === 'matches') {
    await startPipeline({
      ...base,
      kind: 'matches',
      source: { uri: job.uri, contentType: 'application/vnd.apache.parquet' },
    });
    return;
  }
  const csv = job.format === 'ndjson' ? await convertNodesNdjson(deps, job) : job.uri;
  await startPipeline({ ...base, kind: 'nodes', source: { uri: csv, contentType: 'text/csv' } });
}

/**
 * Notes a transient failure on a job still running (a final job is left alone), for `jobs show` and the
 * runbook; the next run's outcome replaces it. The note is best effort: the database is often the very thing
 * that failed, and the error being rethrown is what gets the job retried.
 */
async function noteRetry(deps: RuntimeDeps, jobId: string, error: unknown): Promise<void> {
  try {
    await deps.pool.query(
      `UPDATE import_jobs SET failure_reason = $2, updated_at = now()
       WHERE id = $1 AND status IN ('PENDING', 'PROCESSING')`,
      [jobId, `retrying after ${reasonOf(error)}`],
    );
  } catch (noteError) {
    logger.warn('could not note the retry on the job', { jobId, error: noteError as Error });
  }
}

async function* userRows(
  rows: AsyncIterable<SourceRow>,
  opts: { readonly defaultGroup: string; readonly fromText: boolean },
): AsyncGenerator<UserImportRow> {
  for await (const source of rows) {
    if ('error' in source) {
      yield { line: source.line, reference: null, errors: [source.error] };
      continue;
    }
    const checked = validateUserRow(source.values, opts);
    const username = typeof source.values.username === 'string' ? source.values.username.slice(0, 255) : null;
    yield 'row' in checked
      ? { line: source.line, row: checked.row }
      : { line: source.line, reference: username, errors: checked.errors };
  }
}

/** Marks a job the API runs itself as started. */
async function startOwnJob(deps: RuntimeDeps, jobId: string): Promise<void> {
  await query(
    deps.pool,
    `UPDATE import_jobs SET status = 'PROCESSING', started_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'PENDING'`,
    [jobId],
  );
}

/**
 * Final figures of a job the API ran itself, by the row-accounting rule: `read` is the number of rows read
 * from the file, checked against what the loader reports.
 */
async function finishOwnJob(
  deps: RuntimeDeps,
  job: ApiImportJob,
  read: number,
  loaded: { inserted: number; updated: number; failed: number; duplicates: number; stale?: number },
  reportKind: 'nodes' | 'matches',
): Promise<void> {
  const { config, pool } = deps;
  if (read === 0) throw new InvalidFileError('EMPTY_FILE', 'the file has no rows');
  const account: RowAccount = accountRows(read, {
    succeeded: loaded.inserted + loaded.updated,
    failed: loaded.failed,
    duplicates: loaded.duplicates,
    stale: loaded.stale ?? 0,
  });
  const failedList = await writeFailedReport(deps, job.jobId, [], config.statusListCap, reportKind);
  const status = importStatus(account, config.toleratedFailurePercent);
  await completeJob(pool, job.jobId, {
    status,
    total: account.total,
    processed: account.succeeded,
    successCount: account.succeeded,
    failedCount: account.failed,
    duplicateCount: account.duplicates,
    staleCount: account.stale,
    ...(status === 'COMPLETED' ? {} : { failureReason: rowFailureReason(account) }),
    failedListUri: failedList.uri,
  });
  logJob(job).info('API import finished', { ...account });
}

/** Passes `rows` through, counting them in `tally`: the rows read, counted apart from what the loader saw. */
async function* counted<T>(rows: AsyncIterable<T>, tally: { read: number }): AsyncGenerator<T> {
  for await (const row of rows) {
    tally.read += 1;
    yield row;
  }
}

/**
 * Match suggestions from CSV or NDJSON: validated here and written by the match loader (the one the
 * Parquet pipeline uses), in one pass over the file.
 */
async function importMatchRecords(deps: RuntimeDeps, job: ApiImportJob): Promise<void> {
  const { pool, store, config } = deps;
  await startOwnJob(deps, job.jobId);
  const input = await store.read(job.uri);
  const fromText = job.format === 'csv';
  const rows = fromText ? csvRows(input, config.maxRecordBytes) : ndjsonRows(input, config.maxRecordBytes);
  const unknownAmong = async (ids: readonly string[]): Promise<ReadonlySet<string>> => {
    const result = await query<{ id: string }>(
      pool,
      `SELECT i.id FROM unnest($3::text[]) AS i (id)
       WHERE NOT EXISTS (SELECT 1 FROM nodes n
                         WHERE n.domain_id = $1 AND n.group_id = $2 AND n.reference_id = i.id COLLATE "C")`,
      [job.domainId, job.groupId, ids],
    );
    return new Set(result.rows.map((r) => r.id));
  };
  const tally = { read: 0 };
  const checked = withKnownParticipants(unknownAmong, counted(matchRows(rows, { fromText }), tally));
  const counts = await loadMatches(pool, { ...job, kind: 'matches' }, checked, {
    dbBatchRows: config.dbBatchRows,
    // One batch, the whole file: each DB batch is recorded, so it moves the job's progress once however
    // often the job runs again.
    batch: { index: 0, key: job.uri },
  });
  await finishOwnJob(deps, job, tally.read, counts, 'matches');
}

async function importUsers(deps: RuntimeDeps, job: ApiImportJob): Promise<void> {
  const { pool, store, config } = deps;
  await startOwnJob(deps, job.jobId);
  const input = await store.read(job.uri);
  const fromText = job.format === 'csv';
  const rows = fromText ? csvRows(input, config.maxRecordBytes) : ndjsonRows(input, config.maxRecordBytes);
  const counts = await loadUsers(
    pool,
    job,
    userRows(rows, { defaultGroup: job.groupId, fromText }),
    Math.min(config.dbBatchRows, USERS_BATCH_ROWS),
  );
  await finishOwnJob(deps, job, counts.total, counts, 'nodes');
}
