import { stringify } from 'csv-stringify/sync';
import type { ImportKind } from '../model/types.ts';
import { pipelineObjectUri } from '../storage/staging.ts';
import type { RuntimeDeps } from './deps.ts';
import { type JobError, streamJobErrors } from './job-error-repository.ts';
import { hasJobParts } from './job-part-repository.ts';
import { batchSuccessUri } from './load-batch.ts';

/** A list written to S3 (or the local folder) whole, with its first entries kept for the status message. */
export interface WrittenList {
  readonly uri: string;
  readonly first: readonly string[];
  readonly count: number;
}

/** A failure that is not a row: a batch that failed as a whole after its retries. */
export interface BatchFailure {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
}

/**
 * Joins the success files of the given batches, in batch order, into `reports/<jobId>/success.csv`.
 * Each reference appears once: the loader only lists a reference where the job first wrote it.
 */
export async function writeSuccessReport(
  deps: RuntimeDeps,
  jobId: string,
  batchIndexes: readonly number[],
  cap: number,
): Promise<WrittenList> {
  const first: string[] = [];
  let count = 0;
  const { store } = deps;
  async function* lines(): AsyncGenerator<string> {
    yield 'reference_id\n';
    for (const index of batchIndexes) {
      const uri = batchSuccessUri(deps, jobId, index);
      if (!(await store.exists(uri))) continue;
      let carry = '';
      for await (const chunk of await store.read(uri)) {
        const text = carry + (chunk as Buffer).toString('utf8');
        const end = text.lastIndexOf('\n');
        carry = text.slice(end + 1);
        if (end < 0) continue;
        const complete = text.slice(0, end).split('\n');
        for (const reference of complete) {
          count += 1;
          if (first.length < cap) first.push(reference);
        }
        yield `${stringify(complete.map((reference) => [reference]))}`;
      }
    }
  }
  const uri = pipelineObjectUri(deps.config, 'reports', jobId, 'success.csv');
  await store.write(uri, lines(), { contentType: 'text/csv' });
  return { uri, first, count };
}

/**
 * Writes every failed row of the job (and whole-batch failures) to `reports/<jobId>/failed.csv`, ordered by
 * line, streaming from the database. For node imports the status message's failed list names references,
 * or `line:<n>` for rows that had none. For match imports (`kind` 'matches') every entry is `row:<n>`, the
 * 0-based row index in the Parquet file (stored as line n + 1), and the report's first column is that `row`.
 * A match job of a sharded source numbers its rows across its parts in part order: a failed row's entry is
 * `<part>:row:<n>` (the part's name under the source's folder, the row's index in the part), and the report
 * gains the columns `part` and `part_row` (its `row` stays the job's).
 */
export async function writeFailedReport(
  deps: RuntimeDeps,
  jobId: string,
  batchFailures: readonly BatchFailure[],
  cap: number,
  kind: ImportKind = 'nodes',
): Promise<WrittenList> {
  const matches = kind === 'matches';
  const parts = matches && (await hasJobParts(deps.pool, jobId));
  const position = (line: number) => (matches ? line - 1 : line);
  const label = (error: Pick<JobError, 'line' | 'reference' | 'part' | 'partRow'>) => {
    if (!matches) return error.reference ?? `line:${error.line}`;
    return error.part === undefined ? `row:${error.line - 1}` : `${error.part}:row:${error.partRow}`;
  };
  const first: string[] = [];
  let count = 0;
  const note = (label: string) => {
    count += 1;
    if (first.length < cap) first.push(label);
  };
  const header = matches
    ? `row,participant_id,code,reason${parts ? ',part,part_row' : ''}\n`
    : 'line,reference,code,reason\n';
  const partColumns = (error: Pick<JobError, 'part' | 'partRow'>) =>
    parts ? [error.part ?? '', error.partRow ?? ''] : [];
  async function* rows(): AsyncGenerator<string> {
    yield header;
    for (const failure of batchFailures) {
      note(matches ? label({ line: failure.line, reference: null }) : `line:${failure.line}`);
      yield stringify([[position(failure.line), '', failure.code, failure.reason, ...partColumns({})]]);
    }
    for await (const error of streamJobErrors(deps.pool, jobId, { parts })) {
      note(label(error));
      yield stringify([
        [position(error.line), error.reference ?? '', error.code, error.reason, ...partColumns(error)],
      ]);
    }
  }
  const uri = pipelineObjectUri(deps.config, 'reports', jobId, 'failed.csv');
  await deps.store.write(uri, rows(), { contentType: 'text/csv' });
  return { uri, first, count };
}
