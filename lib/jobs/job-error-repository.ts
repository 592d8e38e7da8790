import type pg from 'pg';
import { readWithCursor } from '../db/cursor.ts';
import { PART_OF_ERROR_JOIN } from './job-part-repository.ts';

/** One failed row of a job, as recorded by the loader. */
export interface JobError {
  readonly line: number;
  readonly reference: string | null;
  readonly code: string;
  readonly reason: string;
  /** For a job of a sharded source: the part holding the row (its name under the source's folder). */
  readonly part?: string;
  /** ...and the row's 0-based index in that part. */
  readonly partRow?: number;
}

/** Rows fetched per round trip by {@link streamJobErrors}. */
const ERROR_FETCH_ROWS = 1000;

/** The failed rows of a job, each with the part of a sharded source holding it (the last one starting before it). */
const ERRORS_WITH_PARTS_SQL = `SELECT e.line, e.reference, e.code, e.reason, p.name, e.line - 1 - p.first_row
  FROM import_job_errors e
  ${PART_OF_ERROR_JOIN}
  WHERE e.job_id = $1 ORDER BY e.line`;

/**
 * Every failed row of a job, ordered by line, read through a server-side cursor in pages of
 * {@link ERROR_FETCH_ROWS}: memory stays flat whatever the number of errors. Holds one pooled connection
 * until the iteration ends (or is abandoned). With `parts` (a job of a sharded source) each row also names
 * its part and its row there.
 */
export async function* streamJobErrors(
  pool: pg.Pool,
  jobId: string,
  options: { readonly parts?: boolean } = {},
): AsyncGenerator<JobError> {
  const pages = readWithCursor(pool, {
    begin: 'BEGIN READ ONLY',
    sql: options.parts
      ? ERRORS_WITH_PARTS_SQL
      : 'SELECT line, reference, code, reason FROM import_job_errors WHERE job_id = $1 ORDER BY line',
    params: [jobId],
    pageRows: ERROR_FETCH_ROWS,
  });
  type Row = [string, string | null, string, string, string | null | undefined, string | null | undefined];
  for await (const page of pages) {
    for (const [line, reference, code, reason, part, partRow] of page as Row[]) {
      yield {
        line: Number(line),
        reference,
        code,
        reason,
        ...(part !== null && part !== undefined ? { part, partRow: Number(partRow) } : {}),
      };
    }
  }
}
