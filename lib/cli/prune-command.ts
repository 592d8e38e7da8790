import { resolve } from 'node:path';
import { pruneReplayedDeadLetters } from '../local/dead-letters.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { prune } from '../retention/prune.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { EXIT, parseCommandLine, UsageError } from './usage.ts';

const OPTIONS = {
  'older-than': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * `matchbridge prune [--older-than <days>] [--dry-run] [--json]`: deletes finished jobs, export runs,
 * expired API idempotency keys and replayed local dead letters past their retention (each kind's
 * `RETENTION_*` setting, or `--older-than` days for all). `--json` prints `{dryRun, olderThanDays,
 * deleted: {table: n}}`, the local dead letters as `dead_letters`.
 */
export async function pruneCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length > 0) throw new UsageError('prune takes no arguments');
  const given = values['older-than'];
  if (given !== undefined && !/^\d{1,5}$/.test(given)) {
    throw new UsageError('--older-than takes a whole number of days');
  }
  const olderThanDays = given === undefined ? undefined : Number(given);
  const env = await openLocalEnvironment();
  try {
    const { pool, config } = await runtimeDeps();
    const dryRun = values['dry-run'];
    const result = await prune(pool, config, {
      dryRun,
      ...(olderThanDays === undefined ? {} : { olderThanDays }),
    });
    const lettersDays = olderThanDays ?? config.retentionDeadLettersDays;
    const deadLetters = await pruneReplayedDeadLetters(
      resolve(config.localHome),
      new Date(Date.now() - lettersDays * DAY_MS),
      dryRun,
    );
    const output = { ...result, deleted: { ...result.deleted, dead_letters: deadLetters } };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(output)}\n`);
    } else {
      const lines = Object.entries(output.deleted).map(([table, n]) => `${table}\t${n}`);
      process.stdout.write(`${dryRun ? 'would delete' : 'deleted'}:\n${lines.join('\n')}\n`);
    }
    return EXIT.completed;
  } finally {
    await env.close();
  }
}
