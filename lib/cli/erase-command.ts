import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { getErasureRecord } from '../erasure/erasure-repository.ts';
import { erasureInput } from '../erasure/erasure-request.ts';
import { InvalidFileError } from '../errors.ts';
import { readJobProgress } from '../jobs/job-progress.ts';
import { referenceListUri, writeReferenceList } from '../jobs/reference-list.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runImportLocally } from '../local/run-import.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { idList } from './id-list.ts';
import { progressReporter } from './progress.ts';
import { EXIT, UsageError } from './usage.ts';

/** The options `erase` reads (parsed by the main command line). */
export interface EraseOptions {
  readonly domain?: string | undefined;
  readonly group?: string | undefined;
  readonly ids?: string | undefined;
  readonly 'ids-file'?: string | undefined;
  readonly json?: boolean | undefined;
}

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * `erase --domain <uuid> [--group <id>] (--ids a,b,c | --ids-file <file>) [--json]`: stages the ids as a
 * reference import does (streamed, any size), runs the erasure state machine locally and prints its status
 * message (`--json`: exactly that object), or a summary with the rows removed per table.
 */
export async function eraseCommand(positionals: readonly string[], options: EraseOptions): Promise<number> {
  if (positionals.length > 0) throw new UsageError('erase takes no file argument');
  const domainId = z.uuid().safeParse(options.domain);
  if (!domainId.success) throw new UsageError('--domain <uuid> is required and must be a UUID');
  const groupId = options.group?.trim();
  if (options.group !== undefined && (!groupId || groupId.length > 255)) {
    throw new UsageError('--group <id> must be 1 to 255 characters');
  }
  if ((options.ids === undefined) === (options['ids-file'] === undefined)) {
    throw new UsageError('erase needs exactly one of --ids a,b,c or --ids-file <file>');
  }
  const env = await openLocalEnvironment();
  try {
    const { store, config, pool } = await runtimeDeps();
    const idsFile = options['ids-file'];
    if (idsFile !== undefined && !(await store.exists(idsFile))) {
      throw new InvalidFileError('FILE_NOT_FOUND', `file not found: ${idsFile}`);
    }
    const jobId = randomUUID();
    const staged = await writeReferenceList(store, referenceListUri(config, jobId), idList(options));
    const progress =
      process.stderr.isTTY && !options.json
        ? progressReporter(process.stderr, () => readJobProgress(pool, jobId))
        : undefined;
    const message = await runImportLocally(
      erasureInput({ domainId: domainId.data, groupId }, jobId, 'cli', staged.uri),
    ).finally(() => progress?.finish());
    if (options.json) {
      write(JSON.stringify(message));
    } else {
      const record = await getErasureRecord(pool, jobId, domainId.data);
      write(
        `Erasure ${jobId} ${message.status}: ${message.processed} of ${message.total} ids erased ` +
          `(${groupId ? `group ${groupId}` : 'every group'}, domain ${domainId.data})`,
      );
      if (message.failureReason) write(`Reason: ${message.failureReason}`);
      if (record) {
        write(
          `Rows removed: ${
            Object.entries(record.counts)
              .map(([table, n]) => `${table} ${n}`)
              .join(', ') || 'none'
          }`,
        );
        write(`Objects: ${record.objects.rewritten ?? 0} rewritten, ${record.objects.deleted ?? 0} deleted`);
      }
    }
    return message.status === 'FAILED' ? EXIT.failed : EXIT.completed;
  } finally {
    await env.close();
  }
}
