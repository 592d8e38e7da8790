import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** A command-line mistake: exit code 2 with a one-line reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The options and positionals of a command line, by `parseArgs` of node:util with `options`. */
export type CommandLine<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: T; allowPositionals: true }>
>;

/** Parses a command line strictly (unknown options are mistakes); a mistake becomes a {@link UsageError}. */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
): CommandLine<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Exit codes of every command (the design's contract). */
export const EXIT = { completed: 0, failed: 1, usage: 2 } as const;

export const USAGE = `usage:
  matchbridge import nodes <file|s3-uri> --domain <uuid> --group <id> [--dry-run] [--as-of <time>] [--json]
  matchbridge import matches <file.parquet|folder/|manifest|s3-uri> --domain <uuid> --group <id> [--dry-run] [--as-of <time>] [--json]
                                  # folder/ or s3://bucket/prefix/: every *.parquet part under it, one job
  matchbridge import users <file.csv|file.ndjson> --domain <uuid> --group <id> [--json]
  matchbridge import references --domain <uuid> --group <id> (--ids a,b,c | --ids-file <file>) [--dry-run] [--as-of <time>] [--json]
  matchbridge erase --domain <uuid> [--group <id>] (--ids a,b,c | --ids-file <file>) [--json]
  matchbridge ingest <msk-event.json> [--json]
  matchbridge jobs list [--limit <n>] [--json]
  matchbridge jobs show <jobId> [--json]
  matchbridge jobs resume <jobId> [--json]    # run an unfinished job again: its completed batches are skipped
  matchbridge dlq list [--json]
  matchbridge dlq replay [<id>] [--json]
  matchbridge kafka-bridge --brokers <host:port>[,…] [--topics a,b] [--group <id>] [--json]
  matchbridge export users [--group <id>] [--domain <uuid>] [--full] [--json]
  matchbridge api [--port 8080] [--host 127.0.0.1]              # the console at /console/
  matchbridge console [--port 8080] [--api <url> [--region r]]  # --api: a deployed REST API, SigV4-signed
  matchbridge prune [--older-than <days>] [--dry-run] [--json]   # finished jobs, runs, keys past retention

--max-failed-rows <n> (import nodes|matches|references): the job stops, FAILED, once more rows failed.
--as-of <time> (import nodes|matches|references): the time of the data (default the file's last-modified
time); a row older than the data its node or match holds is not written and is counted "stale".
--dry-run: the whole job (plan, every batch, every check, the failed list) and no write to nodes or matches;
the status message says "dryRun": true and gives the counts a real run would have.
Exit codes: 0 job COMPLETED, 1 job FAILED, 2 usage or input error.
Database: DATABASE_URL when set, else an embedded PostgreSQL under .matchbridge/ (MATCHBRIDGE_HOME).
Dead letters: .matchbridge/dlq/ingest.jsonl. Idempotency: IDEMPOTENCY_TABLE (+ DYNAMODB_ENDPOINT) when set.`;
