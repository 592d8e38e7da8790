import type pg from 'pg';
import { readWithCursor } from '../db/cursor.ts';

/** One failed row of a job, as recorded by the loader. */
export interface JobError {
  readonly line: number;
  readonly reference: string | null;
  readonly code: string;
  readonly reason: string;
}

/** Rows fetched per round trip by {@link streamJobErrors}. */
const ERROR_FETCH_ROWS = 1000;

/**
 * Every failed row of a job, ordered by line, read through a server-side cursor in pages of
 * {@link ERROR_FETCH_ROWS}: memory stays flat whatever the number of errors. Holds one pooled connection
 * until the iteration ends (or is abandoned).
 */
export async function* streamJobErrors(pool: pg.Pool, jobId: string): AsyncGenerator<JobError> {
  const pages = readWithCursor(pool, {
    begin: 'BEGIN READ ONLY',
    sql: 'SELECT line, reference, code, reason FROM import_job_errors WHERE job_id = $1 ORDER BY line',
    params: [jobId],
    pageRows: ERROR_FETCH_ROWS,
  });
  for await (const page of pages) {
    for (const [line, reference, code, reason] of page as [string, string | null, string, string][]) {
      yield { line: Number(line), reference, code, reason };
    }
  }
}
