/**
 * The rules of a match suggestion row, whatever file it came from: Parquet (the pipeline) and CSV or NDJSON
 * (the bulk API) apply these, so a row is accepted or rejected, with the same code, on every path. Pure: the
 * callers decode their values first (numbers from text, INT64 as bigint).
 */

/** Longest participant id, in characters (Unicode code points), as the `match_suggestions` columns. */
export const MAX_PARTICIPANT_ID_LENGTH = 255;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The `code` of each reason a match row cannot be loaded. */
export const MatchRejectionCode = {
  MISSING_PARTICIPANT: 'MISSING_PARTICIPANT',
  PARTICIPANT_ID_TOO_LONG: 'PARTICIPANT_ID_TOO_LONG',
  INVALID_SCORE: 'INVALID_SCORE',
  SELF_MATCH: 'SELF_MATCH',
  INVALID_RANK: 'INVALID_RANK',
} as const;

/** Why a match row cannot be loaded. */
export interface MatchRowProblem {
  readonly code: (typeof MatchRejectionCode)[keyof typeof MatchRejectionCode];
  readonly reason: string;
}

type Rule = (
  participantId: unknown,
  matchedParticipantId: unknown,
  score: unknown,
  rank: unknown,
) => MatchRowProblem | undefined;

const missing = (column: string, value: unknown): MatchRowProblem | undefined =>
  isParticipantId(value)
    ? undefined
    : { code: MatchRejectionCode.MISSING_PARTICIPANT, reason: `${column} is null or blank` };

const tooLong = (column: string, value: unknown): MatchRowProblem | undefined =>
  isParticipantId(value) && isTooLong(value)
    ? {
        code: MatchRejectionCode.PARTICIPANT_ID_TOO_LONG,
        reason: `${column} has more than ${MAX_PARTICIPANT_ID_LENGTH} characters`,
      }
    : undefined;

/** The rules in the order a row is checked: the first that fails gives the row's code. */
const RULES: readonly Rule[] = [
  (p) => missing('participant_id', p),
  (_, m) => missing('matched_participant_id', m),
  (p) => tooLong('participant_id', p),
  (_, m) => tooLong('matched_participant_id', m),
  (_p, _m, score) =>
    typeof score === 'number' && Number.isFinite(score)
      ? undefined
      : {
          code: MatchRejectionCode.INVALID_SCORE,
          reason: `compatibility_score is ${score == null || score === '' ? 'empty' : String(score)}`,
        },
  (p, m) =>
    isParticipantId(p) && p === m
      ? { code: MatchRejectionCode.SELF_MATCH, reason: 'participant_id equals matched_participant_id' }
      : undefined,
  (_p, _m, _score, rank) =>
    matchRank(rank) === undefined
      ? { code: MatchRejectionCode.INVALID_RANK, reason: `rank ${String(rank)} is not a 32-bit integer` }
      : undefined,
];

/**
 * The first reason the row cannot be loaded, undefined when it can: both ids present (not blank) and at most
 * {@link MAX_PARTICIPANT_ID_LENGTH} characters (`MISSING_PARTICIPANT`, `PARTICIPANT_ID_TOO_LONG`), a finite
 * score (`INVALID_SCORE`), two different participants (`SELF_MATCH`), no rank or a 32-bit integer one
 * (`INVALID_RANK`).
 */
export function firstMatchRowProblem(
  participantId: unknown,
  matchedParticipantId: unknown,
  score: unknown,
  rank: unknown,
): MatchRowProblem | undefined {
  for (const rule of RULES) {
    const problem = rule(participantId, matchedParticipantId, score, rank);
    if (problem) return problem;
  }
  return undefined;
}

/** Every reason the row cannot be loaded, in the order of {@link firstMatchRowProblem}; empty when it can. */
export function matchRowProblems(
  participantId: unknown,
  matchedParticipantId: unknown,
  score: unknown,
  rank: unknown,
): MatchRowProblem[] {
  const problems: MatchRowProblem[] = [];
  for (const rule of RULES) {
    const problem = rule(participantId, matchedParticipantId, score, rank);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** The rank to store: null when absent, undefined when not an integer in the int32 range of the table. */
export function matchRank(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? n : undefined;
}

/** True for a string that is not empty nor only whitespace. */
export function isParticipantId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  const first = value.charCodeAt(0);
  // Most ids start with a printable ASCII character, which is never whitespace: skip the trim.
  return (first > 32 && first <= 126) || value.trim().length > 0;
}

function isTooLong(value: string): boolean {
  if (value.length <= MAX_PARTICIPANT_ID_LENGTH) return false;
  let count = 0;
  for (const _ of value) if (++count > MAX_PARTICIPANT_ID_LENGTH) return true;
  return false;
}
