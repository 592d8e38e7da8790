import { type MatchRowRun, matchRowRun, RUN_ROWS } from '../parquet/read-matches.ts';
import type { JsonValue, MatchRow, MatchRowRejection } from '../parquet/types.ts';
import type { SourceRow } from './row-sources.ts';

const MAX_ID_LENGTH = 255;
const KNOWN = new Set(['participant_id', 'matched_participant_id', 'compatibility_score', 'rank']);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Match suggestions from CSV or NDJSON records, validated like the Parquet columns (both ids required, at
 * most 255 characters; a finite score; an optional 32-bit integer rank; every other field into `details`,
 * empty cells and nulls left out). `row` is the record's line − 1, so the loader's `line` (row + 1) is the
 * record's own line. A failed row carries all its errors, joined.
 */
export async function* matchRows(
  rows: AsyncIterable<SourceRow>,
  opts: { readonly fromText: boolean },
): AsyncGenerator<MatchRow | MatchRowRejection> {
  for await (const source of rows) {
    const row = source.line - 1;
    if ('error' in source) {
      yield { row, line: source.line, reference: null, code: 'INVALID_ROW', reason: source.error };
      continue;
    }
    const values = source.values;
    const errors: string[] = [];
    const id = (name: string): string => {
      const value = values[name];
      if (typeof value !== 'string' || value.trim() === '') errors.push(`${name} is required`);
      else if ([...value].length > MAX_ID_LENGTH)
        errors.push(`${name} is longer than ${MAX_ID_LENGTH} characters`);
      else return value;
      return '';
    };
    const number = (value: unknown): number | undefined => {
      if (opts.fromText && typeof value === 'string' && value.trim() !== '') return Number(value);
      return typeof value === 'number' ? value : undefined;
    };
    const participantId = id('participant_id');
    const matchedParticipantId = id('matched_participant_id');
    const score = number(values.compatibility_score);
    if (score === undefined || !Number.isFinite(score)) errors.push('compatibility_score must be a number');
    const rawRank = values.rank;
    const blankRank = rawRank === undefined || rawRank === null || (opts.fromText && rawRank === '');
    const rank = blankRank ? null : number(rawRank);
    if (rank === undefined || (rank !== null && (!Number.isInteger(rank) || Math.abs(rank) > INT32_MAX))) {
      errors.push('rank must be an integer');
    }
    if (errors.length > 0) {
      const reference =
        typeof values.participant_id === 'string' ? values.participant_id.slice(0, MAX_ID_LENGTH) : null;
      yield { row, line: source.line, reference, code: 'INVALID_ROW', reason: errors.join('; ') };
      continue;
    }
    const details: Record<string, JsonValue> = {};
    for (const [name, value] of Object.entries(values)) {
      if (KNOWN.has(name) || value === null || value === undefined || (opts.fromText && value === ''))
        continue;
      details[name] = value as JsonValue;
    }
    yield {
      row,
      participantId,
      matchedParticipantId,
      compatibilityScore: score as number,
      rank: rank ?? null,
      details,
    };
  }
}

/** Rows whose participants are looked up in one statement. */
const PARTICIPANT_CHECK_ROWS = 5000;

/**
 * Rejects match rows whose participant or matched participant is not a node of the job's group, looked up
 * set-based: one query per {@link PARTICIPANT_CHECK_ROWS} rows, holding only that many in memory. The checked
 * rows come out as runs of up to {@link RUN_ROWS} rows for the match loader.
 */
export async function* withKnownParticipants(
  unknownAmong: (ids: readonly string[]) => Promise<ReadonlySet<string>>,
  rows: AsyncIterable<MatchRow | MatchRowRejection>,
): AsyncGenerator<MatchRowRun> {
  let batch: (MatchRow | MatchRowRejection)[] = [];
  async function* flush(): AsyncGenerator<MatchRowRun> {
    const ids = new Set<string>();
    for (const item of batch) {
      if ('participantId' in item) ids.add(item.participantId).add(item.matchedParticipantId);
    }
    const unknown = ids.size > 0 ? await unknownAmong([...ids]) : new Set<string>();
    const checked = batch.map((item): MatchRow | MatchRowRejection => {
      if (!('participantId' in item)) return item;
      const missing = [item.participantId, item.matchedParticipantId].filter((p) => unknown.has(p));
      if (missing.length === 0) return item;
      return {
        row: item.row,
        line: item.row + 1,
        reference: item.participantId,
        code: 'UNKNOWN_PARTICIPANT',
        reason: missing.map((p) => `${p} is not a node of the group`).join('; '),
      };
    });
    batch = [];
    for (let from = 0; from < checked.length; from += RUN_ROWS)
      yield matchRowRun(checked.slice(from, from + RUN_ROWS));
  }
  for await (const item of rows) {
    batch.push(item);
    if (batch.length >= PARTICIPANT_CHECK_ROWS) yield* flush();
  }
  yield* flush();
}
