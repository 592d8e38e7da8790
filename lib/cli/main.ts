import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ConfigurationError, InvalidFileError, InvalidRequestError, MatchbridgeError } from '../errors.ts';
import { getJob, getLatestStatusEvent, listJobs } from '../jobs/job-repository.ts';
import { referenceListUri, writeReferenceList } from '../jobs/reference-list.ts';
import { resumeInput } from '../jobs/resume.ts';
import { canonicalStatusMessage } from '../jobs/status-message.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runImportLocally } from '../local/run-import.ts';
import type { ImportKind, ImportSource, JobStatusMessage } from '../model/types.ts';
import { logger } from '../observability/logger.ts';
import { type RuntimeDeps, runtimeDeps } from '../runtime/deps.ts';
import { apiCommand } from './api-command.ts';
import { exportCommand } from './export-command.ts';
import { importUsersCommand } from './import-users-command.ts';
import { dlqCommand, ingestCommand } from './ingest-commands.ts';
import { kafkaBridgeCommand } from './kafka-bridge-command.ts';
import { progressReporter } from './progress.ts';
import { pruneCommand } from './prune-command.ts';
import { type CommandLine, EXIT, parseCommandLine, USAGE, UsageError } from './usage.ts';

export { EXIT } from './usage.ts';

const OPTIONS = {
  domain: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean', default: false },
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
  if (m.failureReason) write(`Reason: ${m.failureReason}`);
  if (m.failedList?.length)
    write(`Failed: ${m.failedList.slice(0, 10).join(', ')}${m.failedList.length > 10 ? ', …' : ''}`);
  if (m.successListUri) write(`Success list: ${m.successListUri}`);
  if (m.failedListUri) write(`Failed list: ${m.failedListUri}`);
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
  const env = await openLocalEnvironment();
  try {
    const jobId = randomUUID();
    const source = await locate(jobId, await runtimeDeps());
    const progress = process.stderr.isTTY && !options.json ? progressReporter(process.stderr) : undefined;
    const message = await runImportLocally(
      { jobId, kind, ...target, source, origin: 'cli' },
      progress ? { observe: progress.observe } : {},
    );
    progress?.finish();
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

/** `import matches <file.parquet|s3-uri>`: a Parquet file of match suggestions, through the match machine. */
function importMatches(positionals: string[], options: Options): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('import matches takes exactly one file or s3 URI');
  return runImport(options, 'matches', async (_jobId, { store }) => {
    const info = await store.head(file);
    return { uri: info.uri, fileName: file, contentType: 'application/vnd.apache.parquet' };
  });
}

/** Ids from `--ids a,b,c`, or streamed from `--ids-file` (one per line; blank lines are not ids). */
async function* referenceIds(options: Options): AsyncGenerator<string> {
  if (options.ids !== undefined) {
    yield* options.ids.split(',');
    return;
  }
  const path = options['ids-file'] ?? '';
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line.trim() !== '') yield line;
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
    const staged = await writeReferenceList(store, referenceListUri(config, jobId), referenceIds(options));
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
      printStatus(
        {
          jobId: job.id,
          kind: job.kind,
          groupId: job.groupId,
          domainId: job.domainId,
          status: job.status,
          processed: job.processed,
          total: job.total,
          successList: [],
          failedList: [],
          startedAt: (job.startedAt ?? job.createdAt).toISOString(),
        },
        options.json,
      );
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
      const progress = process.stderr.isTTY && !options.json ? progressReporter(process.stderr) : undefined;
      const message = await runImportLocally(
        resumeInput(job, referenceListUri(config, job.id), removals),
        progress ? { observe: progress.observe } : {},
      );
      progress?.finish();
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
  try {
    if (argv[0] === 'kafka-bridge') return await kafkaBridgeCommand(argv.slice(1));
    if (argv[0] === 'export') return await exportCommand(argv.slice(1));
    if (argv[0] === 'api') return await apiCommand(argv.slice(1));
    if (argv[0] === 'prune') return await pruneCommand(argv.slice(1));
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    const [command, sub, ...rest] = positionals;
    if (values.help || !command) {
      process.stderr.write(`${USAGE}\n`);
      return values.help ? EXIT.completed : EXIT.usage;
    }
    if (command === 'import' && sub === 'nodes') return await importNodes(rest, values);
    if (command === 'import' && sub === 'references') return await importReferences(rest, values);
    if (command === 'import' && sub === 'matches') return await importMatches(rest, values);
    if (command === 'import' && sub === 'users')
      return await importUsersCommand(rest, jobTarget(values), values.json);
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
