/** A command-line mistake: exit code 2 with a one-line reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage:
  matchbridge import nodes <file|s3-uri> --domain <uuid> --group <id> [--json]
  matchbridge jobs list [--limit <n>] [--json]
  matchbridge jobs show <jobId> [--json]

Exit codes: 0 job COMPLETED, 1 job FAILED, 2 usage or input error.
Database: DATABASE_URL when set, else an embedded PostgreSQL under .matchbridge/ (MATCHBRIDGE_HOME).`;
