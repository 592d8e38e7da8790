import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConfigurationError, InvalidFileError, InvalidRequestError, MatchbridgeError } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { readJobProgress } from '../jobs/job-progress.ts';
import { getJob, listJobs } from '../jobs/job-repository.ts';
import { referenceListUri, writeReferenceList } from '../jobs/reference-list.ts';
import { resumeInput } from '../jobs/resume.ts';
import { getLatestStatusEvent } from '../jobs/status-event-repository.ts';
import { canonicalStatusMessage } from '../jobs/status-message.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runImportLocally } from '../local/run-import.ts';
import type { ImportKind, ImportSource, JobStatusMessage } from '../model/types.ts';
import { logger, useCliLogLines } from '../observability/logger.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { formatFolderUri, isFolderUri, parseFolderUri } from '../storage/object-uri.ts';
import { apiCommand } from './api-command.ts';
import { consoleCommand } from './console-command.ts';
import { eraseCommand } from './erase-command.ts';
import { exportCommand } from './export-command.ts';
import { idList } from './id-list.ts';
import { importUsersCommand } from './import-users-command.ts';
import { dlqCommand, ingestCommand } from './ingest-commands.ts';
import { kafkaBridgeCommand } from './kafka-bridge-command.ts';
import { progressLine, progressReporter } from './progress.ts';
import { pruneCommand } from './prune-command.ts';
import { type CommandLine, EXIT, parseCommandLine, USAGE, UsageError } from './usage.ts';

const OPTIONS = {
  domain: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  'max-failed-rows': { type: 'string' },
  'as-of': { type: 'string' },
  limit: { type: 'string' },
  ids: { type: 'string' },
  'ids-file': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = CommandLine<typeof OPTIONS>['values'];

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}

function exitFor(status: string): number {
  return status === 'FAILED' ? EXIT.failed : EXIT.completed;
}

function printStatus(message: JobStatusMessage | Record<string, unknown>, json: boolean): void {
  if (json) {
    write(JSON.stringify(message));
    return;
  }
  const m = message as JobStatusMessage;
  const failed = m.total - m.processed;
  write(
    `Job ${m.jobId} ${m.status}: ${m.processed} of ${m.total} rows loaded${failed > 0 ? `, ${failed} not loaded` : ''} ` +
      `(${m.kind}, group ${m.groupId}, domain ${m.domainId})`,
  );
  if (m.stale) write(`Stale: ${m.stale} rows older than the data already held, not written`);
  if (m.failureReason) write(`Reason: ${m.failureReason}`);
  if (m.failedList?.length)
    write(`Failed: ${m.failedList.slice(0, 10).join(', ')}${m.failedList.length > 10 ? ', …' : ''}`);
  if (m.successListUri) write(`Success list: ${m.successListUri}`);
  if (m.failedListUri) write(`Failed list: ${m.failedListUri}`);
}

/** `--max-failed-rows <n>`: the job stops once more rows failed. */
function maxFailedRows(options: Options): { maxFailedRows?: number } {
  const raw = options['max-failed-rows'];
  if (raw === undefined) return {};
  const parsed = z.coerce.number().int().nonnegative().safeParse(raw);
  if (!parsed.success) throw new UsageError('--max-failed-rows takes a whole number ≥ 0');
  return { maxFailedRows: parsed.data };
}

/** `--as-of <time>`: the time of the data (ISO 8601 with an offset); older rows than a node's are stale. */
function asOf(options: Options): { asOf?: string } {
  const raw = options['as-of'];
  if (raw === undefined) return {};
  const parsed = z.iso.datetime({ offset: true }).safeParse(raw);
  if (!parsed.success)
    throw new UsageError('--as-of takes an ISO 8601 time with an offset (2026-12-01T00:00:00Z)');
  return { asOf: parsed.data };
}

/** The live progress line of a job, on a terminal only (never with `--json`). */
async function liveProgress(options: Options, jobId: string) {
  if (!process.stderr.isTTY || options.json) return undefined;
  const { pool } = await runtimeDeps();
  return progressReporter(process.stderr, () => readJobProgress(pool, jobId));
}

/** The domain and group every import names, validated. */
function jobTarget(options: Options): { domainId: string; groupId: string } {
  const domainId = z.uuid().safeParse(options.domain);
  if (!domainId.success) throw new UsageError('--domain <uuid> is required and must be a UUID');
  const groupId = options.group?.trim();
  if (!groupId || groupId.length > 255) {
    throw new UsageError('--group <id> is required (1 to 255 characters)');
  }
  return { domainId: domainId.data, groupId };
}

/**
 * Runs one import job locally, from a source that `locate` finds (or stages) once the local environment is
 * open, and prints its status message.
 */
async function runImport(
  options: Options,
  kind: ImportKind,
  locate: (jobId: string, deps: RuntimeDeps) => Promise<ImportSource>,
): Promise<number> {
  const target = jobTarget(options);
  const budget = maxFailedRows(options);
  const time = asOf(options);
  const env = await openLocalEnvironment();
  try {
    const jobId = randomUUID();
    const source = await locate(jobId, await runtimeDeps());
    const progress = await liveProgress(options, jobId);
    const message = await runImportLocally({
      jobId,
      kind,
      ...target,
      source,
      origin: 'cli',
      ...(options['dry-run'] ? { dryRun: true } : {}),
      ...budget,
      ...time,
    }).finally(() => progress?.finish());
    printStatus(message, options.json);
    return exitFor(message.status);
  } finally {
    await env.close();
  }
}

function importNodes(positionals: string[], options: Options): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('import nodes takes exactly one file or s3 URI');
  return runImport(options, 'nodes', async (_jobId, { store }) => {
    const info = await store.head(file);
    return { uri: info.uri, fileName: file };
  });
}

/**
 * `import matches <file.parquet|folder/|manifest|s3-uri>`: a Parquet file of match suggestions, or a folder
 * or prefix (trailing `/`) or manifest of Parquet parts, through the match machine.
 */
function importMatches(positionals: string[], options: Options): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('import matches takes exactly one file or s3 URI');
  return runImport(options, 'matches', async (_jobId, { store }) => {
    // A folder's parts are listed when the job plans: an empty one fails the job NO_PARTS.
    if (isFolderUri(file)) {
      return { uri: formatFolderUri(parseFolderUri(file, { allowLocal: true })), fileName: file };
    }
    const info = await store.head(file);
    return { uri: info.uri, fileName: file, contentType: 'application/vnd.apache.parquet' };
  });
}

function importReferences(positionals: string[], options: Options): Promise<number> {
  if (positionals.length > 0) throw new UsageError('import references takes no file argument');
  if ((options.ids === undefined) === (options['ids-file'] === undefined)) {
    throw new UsageError('import references needs exactly one of --ids a,b,c or --ids-file <file>');
  }
  return runImport(options, 'nodes', async (jobId, { store, config }) => {
    const idsFile = options['ids-file'];
    if (idsFile !== undefined && !(await store.exists(idsFile))) {
      throw new InvalidFileError('FILE_NOT_FOUND', `file not found: ${idsFile}`);
    }
    const staged = await writeReferenceList(store, referenceListUri(config, jobId), idList(options));
    return { uri: staged.uri, kind: 'references' };
  });
}

async function jobs(positionals: string[], options: Options): Promise<number> {
  const [action, jobId] = positionals;
  const env = await openLocalEnvironment();
  try {
    const { pool } = await runtimeDeps();
    if (action === 'list') {
      const limit = z.coerce
        .number()
        .int()
        .min(1)
        .max(1000)
        .safeParse(options.limit ?? 20);
      if (!limit.success) throw new UsageError('--limit must be an integer from 1 to 1000');
      const rows = await listJobs(pool, { limit: limit.data });
      if (options.json) {
        write(JSON.stringify(rows));
      } else {
        write(['JOB ID', 'KIND', 'STATUS', 'GROUP', 'TOTAL', 'LOADED', 'FAILED', 'CREATED'].join('\t'));
        for (const r of rows) {
          write(
            [
              r.id,
              r.kind,
              r.status,
              r.groupId,
              r.total,
              r.processed,
              r.failedCount,
              r.createdAt.toISOString(),
            ].join('\t'),
          );
        }
      }
      return EXIT.completed;
    }
    if (action === 'show') {
      if (!jobId || !z.uuid().safeParse(jobId).success)
        throw new UsageError('jobs show takes a job id (UUID)');
      const message = await getLatestStatusEvent(pool, jobId);
      if (message) {
        printStatus(canonicalStatusMessage(message), options.json);
        return exitFor(message.status);
      }
      const job = await getJob(pool, jobId);
      if (!job) throw new UsageError(`no job ${jobId}`);
      // A job without a status message that has not ended is running: its running counters stand.
      const ended = job.status === 'COMPLETED' || job.status === 'FAILED';
      const running = ended ? undefined : await readJobProgress(pool, jobId);
      printStatus(
        {
          jobId: job.id,
          kind: job.kind,
          groupId: job.groupId,
          domainId: job.domainId,
          status: job.status,
          processed: running?.progress.rowsWritten ?? job.processed,
          total: job.total,
          successList: [],
          failedList: [],
          startedAt: (job.startedAt ?? job.createdAt).toISOString(),
          ...(running ? { progress: running.progress } : {}),
        },
        options.json,
      );
      if (running && !options.json) write(`Progress: ${progressLine(running)}`);
      return EXIT.completed;
    }
    if (action === 'resume') {
      if (!jobId || !z.uuid().safeParse(jobId).success)
        throw new UsageError('jobs resume takes a job id (UUID)');
      const job = await getJob(pool, jobId);
      if (!job) throw new UsageError(`no job ${jobId}`);
      const { config, store } = await runtimeDeps();
      const removalList = referenceListUri(config, job.id, 'removals');
      const removals = await store.head(removalList).then(
        () => ({ uri: removalList }),
        () => undefined,
      );
      const progress = await liveProgress(options, job.id);
      const message = await runImportLocally(
        resumeInput(job, referenceListUri(config, job.id), removals),
      ).finally(() => progress?.finish());
      printStatus(message, options.json);
      return exitFor(message.status);
    }
    throw new UsageError('jobs takes list, show <jobId> or resume <jobId>');
  } finally {
    await env.close();
  }
}

/** Runs the command line; returns the exit code. Output contract: stdout for results, stderr for the rest. */
export async function main(argv: string[]): Promise<number> {
  useCliLogLines(process.stderr.isTTY && !argv.includes('--json') ? 'readable' : 'json');
  try {
    if (argv[0] === 'kafka-bridge') return await kafkaBridgeCommand(argv.slice(1));
    if (argv[0] === 'export') return await exportCommand(argv.slice(1));
    if (argv[0] === 'api') return await apiCommand(argv.slice(1));
    if (argv[0] === 'prune') return await pruneCommand(argv.slice(1));
    if (argv[0] === 'console') return await consoleCommand(argv.slice(1));
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    const [command, sub, ...rest] = positionals;
    if (values.help || !command) {
      process.stderr.write(`${USAGE}\n`);
      return values.help ? EXIT.completed : EXIT.usage;
    }
    if (command === 'import' && sub === 'nodes') return await importNodes(rest, values);
    if (command === 'import' && sub === 'references') return await importReferences(rest, values);
    if (command === 'import' && sub === 'matches') return await importMatches(rest, values);
    if (command === 'import' && sub === 'users') {
      // Users load outside the pipeline: a dry run or a failure budget asked of them would be ignored.
      if (values['dry-run'] || values['max-failed-rows'] !== undefined || values['as-of'] !== undefined) {
        throw new UsageError('import users takes none of --dry-run, --max-failed-rows, --as-of');
      }
      return await importUsersCommand(rest, jobTarget(values), values.json);
    }
    if (command === 'erase') return await eraseCommand(sub === undefined ? [] : [sub, ...rest], values);
    if (command === 'jobs') return await jobs(sub === undefined ? [] : [sub, ...rest], values);
    if (command === 'ingest') return await ingestCommand(sub === undefined ? [] : [sub, ...rest], values);
    if (command === 'dlq') return await dlqCommand(sub === undefined ? [] : [sub, ...rest], values);
    throw new UsageError(`unknown command: ${positionals.slice(0, 2).join(' ')}`);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof InvalidRequestError ||
      error instanceof InvalidFileError ||
      error instanceof ConfigurationError
    ) {
      process.stderr.write(`matchbridge: ${error.message}\n`);
      if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
      return EXIT.usage;
    }
    const message = error instanceof MatchbridgeError ? `${error.code}: ${error.message}` : String(error);
    logger.error('command failed', { error: error as Error });
    process.stderr.write(`matchbridge: ${message}\n`);
    return EXIT.failed;
  }
}
