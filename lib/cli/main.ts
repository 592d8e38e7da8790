import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidFileError, InvalidRequestError, MatchbridgeError } from '../errors.ts';
import { getJob, getLatestStatusEvent, listJobs } from '../jobs/job-repository.ts';
import { canonicalStatusMessage } from '../jobs/status-message.ts';
import type { JobStatusMessage } from '../jobs/types.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runImportLocally } from '../local/run-import.ts';
import { logger } from '../observability/logger.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { progressReporter } from './progress.ts';
import { USAGE, UsageError } from './usage.ts';

/** Exit codes of every command (the design's contract). */
export const EXIT = { completed: 0, failed: 1, usage: 2 } as const;

const OPTIONS = {
  domain: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean', default: false },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

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

async function importNodes(positionals: string[], options: Options): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('import nodes takes exactly one file or s3 URI');
  const domainId = z.uuid().safeParse(options.domain);
  if (!domainId.success) throw new UsageError('--domain <uuid> is required and must be a UUID');
  const groupId = options.group?.trim();
  if (!groupId || groupId.length > 255)
    throw new UsageError('--group <id> is required (1 to 255 characters)');
  const env = await openLocalEnvironment();
  try {
    const { store } = await runtimeDeps();
    const info = await store.head(file);
    const jobId = randomUUID();
    const progress = process.stderr.isTTY && !options.json ? progressReporter(process.stderr) : undefined;
    const message = await runImportLocally(
      {
        jobId,
        kind: 'nodes',
        domainId: domainId.data,
        groupId,
        source: { uri: info.uri, fileName: file },
        origin: 'cli',
      },
      progress ? { observe: progress.observe } : {},
    );
    progress?.finish();
    printStatus(message, options.json);
    return exitFor(message.status);
  } finally {
    await env.close();
  }
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
    throw new UsageError('jobs takes list or show <jobId>');
  } finally {
    await env.close();
  }
}

/** Runs the command line; returns the exit code. Output contract: stdout for results, stderr for the rest. */
export async function main(argv: string[]): Promise<number> {
  try {
    let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, sub, ...rest] = positionals;
    if (values.help || !command) {
      process.stderr.write(`${USAGE}\n`);
      return values.help ? EXIT.completed : EXIT.usage;
    }
    if (command === 'import' && sub === 'nodes') return await importNodes(rest, values);
    if (command === 'jobs') return await jobs(sub === undefined ? [] : [sub, ...rest], values);
    throw new UsageError(`unknown command: ${positionals.slice(0, 2).join(' ')}`);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof InvalidRequestError ||
      error instanceof InvalidFileError
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
