import { isParticipantId, matchRank, matchRowProblems } from '../matches/match-row-rules.ts';
import {
  type JsonValue,
  type MatchRow,
  type MatchRowRejection,
  type MatchRowRun,
  matchRowRun,
  RUN_ROWS,
} from '../matches/match-rows.ts';
import type { SourceRow } from './row-sources.ts';

const KNOWN = new Set(['participant_id', 'matched_participant_id', 'compatibility_score', 'rank']);

/**
 * Match suggestions from CSV or NDJSON records, checked by the match row rules the Parquet pipeline applies
 * ({@link matchRowProblems}); every other field goes into `details`, empty cells and nulls left out. In CSV
 * numbers are text: a score or rank cell is read as a number, and an empty one is absent. `row` is the
 * record's line − 1, so the loader's `line` (row + 1) is the record's own line. A failed row has the code of
 * the first rule it breaks, as a Parquet row would, and all its reasons, joined.
 */
export async function* matchRows(
  rows: AsyncIterable<SourceRow>,
  opts: { readonly fromText: boolean },
): AsyncGenerator<MatchRow | MatchRowRejection> {
  const fromText = (value: unknown): unknown => {
    if (!opts.fromText || typeof value !== 'string') return value;
    if (value.trim() === '') return null;
    const n = Number(value);
    // Text that is no number stays as it is, so the reason quotes what the file holds.
    return Number.isNaN(n) ? value : n;
  };
  for await (const source of rows) {
    const row = source.line - 1;
    if ('error' in source) {
      yield { row, line: source.line, reference: null, code: 'INVALID_ROW', reason: source.error };
      continue;
    }
    const values = source.values;
    const participantId = values.participant_id;
    const matchedParticipantId = values.matched_participant_id;
    const score = fromText(values.compatibility_score);
    const rank = fromText(values.rank);
    const [first, ...more] = matchRowProblems(participantId, matchedParticipantId, score, rank);
    if (first) {
      yield {
        row,
        line: source.line,
        reference: isParticipantId(participantId) ? participantId : null,
        code: first.code,
        reason: [first, ...more].map((problem) => problem.reason).join('; '),
      };
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
      participantId: participantId as string,
      matchedParticipantId: matchedParticipantId as string,
      compatibilityScore: score as number,
      rank: matchRank(rank) ?? null,
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
