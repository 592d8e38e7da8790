import { randomUUID } from 'node:crypto';
import { createImportJob, runApiImportInProcess } from '../api/import-jobs.ts';
import { streamJobErrors } from '../jobs/job-error-repository.ts';
import { getJob } from '../jobs/job-repository.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { EXIT, UsageError } from './usage.ts';

/** Failed lines named in the printed result (the report has them all). */
const FAILED_SHOWN = 1000;

/**
 * `import users <file.csv|file.ndjson> --domain --group [--json]`: the users import of the bulk API, run
 * locally. Prints a status message like the other imports (`kind` `users`; the failed list names lines as
 * `line:<n>`); exit 0 when every row loaded, 1 when the job FAILED.
 */
export async function importUsersCommand(
  positionals: string[],
  target: { domainId: string; groupId: string },
  json: boolean,
): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('import users takes exactly one .csv or .ndjson file');
  const format = /\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'csv';
  const env = await openLocalEnvironment();
  try {
    const deps = await runtimeDeps();
    const info = await deps.store.head(file);
    const job = { jobId: randomUUID(), resourceType: 'users', format, ...target, uri: info.uri } as const;
    await createImportJob(deps, job, 'cli');
    await runApiImportInProcess(deps, job, () => Promise.reject(new Error('users have no state machine')));
    const row = await getJob(deps.pool, job.jobId);
    if (!row) throw new Error(`job ${job.jobId} vanished`);
    const failedList: string[] = [];
    for await (const error of streamJobErrors(deps.pool, job.jobId)) {
      if (failedList.length >= FAILED_SHOWN) break;
      failedList.push(`line:${error.line}`);
    }
    const message = {
      jobId: row.id,
      kind: 'users',
      groupId: row.groupId,
      domainId: row.domainId,
      status: row.status,
      processed: row.processed,
      total: row.total,
      successList: [],
      failedList,
      ...(row.failedListUri ? { failedListUri: row.failedListUri } : {}),
      ...(row.failureReason ? { failureReason: row.failureReason } : {}),
      startedAt: (row.startedAt ?? row.createdAt).toISOString(),
      finishedAt: (row.finishedAt ?? row.updatedAt).toISOString(),
    };
    if (json) process.stdout.write(`${JSON.stringify(message)}\n`);
    else {
      process.stdout.write(
        `Job ${row.id} ${row.status}: ${row.processed} of ${row.total} users loaded (group ${row.groupId}, domain ${row.domainId})\n`,
      );
      if (row.failureReason) process.stdout.write(`Reason: ${row.failureReason}\n`);
      if (row.failedListUri && row.failedCount > 0)
        process.stdout.write(`Failed list: ${row.failedListUri}\n`);
    }
    return row.status === 'COMPLETED' ? EXIT.completed : EXIT.failed;
  } finally {
    await env.close();
  }
}
