import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { matchRows } from '../../../lib/api/match-rows.ts';
import { csvRows, ndjsonRows } from '../../../lib/api/row-sources.ts';
import { MatchRejectionCode } from '../../../lib/matches/match-row-rules.ts';
import type { MatchRow, MatchRowRejection } from '../../../lib/matches/match-rows.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import { collect, localStore, readMatchRows, tempFolder, writeHyparquet } from '../parquet/fixtures.ts';

interface Edge {
  readonly name: string;
  readonly participant: string;
  readonly matched: string;
  readonly score: number | null;
  readonly rank: bigint | null;
  /** The code every path gives the row, or `accepted`. */
  readonly outcome: string;
}

const ACCEPTED = 'accepted';
const { MISSING_PARTICIPANT, PARTICIPANT_ID_TOO_LONG, INVALID_SCORE, SELF_MATCH, INVALID_RANK } =
  MatchRejectionCode;

const EDGES: readonly Edge[] = [
  { name: 'valid', participant: 'p', matched: 'm', score: 0.5, rank: 1n, outcome: ACCEPTED },
  { name: 'self-match', participant: 'p', matched: 'p', score: 0.5, rank: 1n, outcome: SELF_MATCH },
  {
    name: 'rank int32 min',
    participant: 'p',
    matched: 'm1',
    score: 0.5,
    rank: -(2n ** 31n),
    outcome: ACCEPTED,
  },
  {
    name: 'rank int32 max',
    participant: 'p',
    matched: 'm2',
    score: 0.5,
    rank: 2n ** 31n - 1n,
    outcome: ACCEPTED,
  },
  {
    name: 'rank past int32',
    participant: 'p',
    matched: 'm3',
    score: 0.5,
    rank: 2n ** 31n,
    outcome: INVALID_RANK,
  },
  { name: 'no rank', participant: 'p', matched: 'm4', score: 0.5, rank: null, outcome: ACCEPTED },
  { name: 'NaN score', participant: 'p', matched: 'm5', score: Number.NaN, rank: 1n, outcome: INVALID_SCORE },
  {
    name: 'infinite score',
    participant: 'p',
    matched: 'm6',
    score: Number.POSITIVE_INFINITY,
    rank: 1n,
    outcome: INVALID_SCORE,
  },
  {
    name: '-infinite score',
    participant: 'p',
    matched: 'm7',
    score: Number.NEGATIVE_INFINITY,
    rank: 1n,
    outcome: INVALID_SCORE,
  },
  { name: 'no score', participant: 'p', matched: 'm8', score: null, rank: 1n, outcome: INVALID_SCORE },
  {
    name: 'empty participant',
    participant: '',
    matched: 'm',
    score: 0.5,
    rank: 1n,
    outcome: MISSING_PARTICIPANT,
  },
  {
    name: 'empty matched',
    participant: 'p',
    matched: '',
    score: 0.5,
    rank: 1n,
    outcome: MISSING_PARTICIPANT,
  },
  {
    name: 'blank participant',
    participant: '  ',
    matched: 'm',
    score: 0.5,
    rank: 1n,
    outcome: MISSING_PARTICIPANT,
  },
  {
    name: 'participant of 256 chars',
    participant: 'x'.repeat(256),
    matched: 'm',
    score: 0.5,
    rank: 1n,
    outcome: PARTICIPANT_ID_TOO_LONG,
  },
  {
    name: 'matched of 255 chars',
    participant: 'p',
    matched: 'é'.repeat(255),
    score: 0.5,
    rank: 1n,
    outcome: ACCEPTED,
  },
  {
    name: 'empty id and bad score: the first rule wins',
    participant: '',
    matched: 'm',
    score: Number.NaN,
    rank: 2n ** 40n,
    outcome: MISSING_PARTICIPANT,
  },
];

/** Each row's outcome by the name of its edge case; the row of `EDGES[i]` is `i + offset`. */
function outcomes(items: readonly (MatchRow | MatchRowRejection)[], offset: number): Record<string, string> {
  const byName: Record<string, string> = {};
  for (const item of items) {
    const edge = EDGES[item.row - offset];
    assert.ok(edge, `row ${item.row}`);
    byName[edge.name] = 'code' in item ? item.code : ACCEPTED;
  }
  return byName;
}

const expected = Object.fromEntries(EDGES.map((edge) => [edge.name, edge.outcome]));

const csvCell = (value: string | number | bigint | null): string =>
  value === null
    ? ''
    : /[",\n]/.test(String(value))
      ? `"${String(value).replaceAll('"', '""')}"`
      : String(value);

describe('match row rules: the Parquet pipeline and the API accept and reject the same rows', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
  });
  after(async () => {
    await folder.remove();
  });

  it('Parquet (INT64 rank)', async () => {
    const uri = folder.path('edges.parquet');
    await writeHyparquet(uri, [
      { name: 'participant_id', data: EDGES.map((e) => e.participant), type: 'STRING' },
      { name: 'matched_participant_id', data: EDGES.map((e) => e.matched), type: 'STRING' },
      { name: 'compatibility_score', data: EDGES.map((e) => e.score), type: 'DOUBLE' },
      { name: 'rank', data: EDGES.map((e) => e.rank), type: 'INT64' },
    ]);
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 100, maxBatches: 10 });
    const items: (MatchRow | MatchRowRejection)[] = [];
    for (const batch of plan.batches)
      items.push(...(await collect(readMatchRows(localStore(), uri, batch, plan.columns))));
    assert.deepEqual(outcomes(items, 0), expected);
  });

  it('API CSV (record line n is row n − 1; the header is line 1)', async () => {
    const lines = ['participant_id,matched_participant_id,compatibility_score,rank'];
    for (const e of EDGES) lines.push([e.participant, e.matched, e.score, e.rank].map(csvCell).join(','));
    const input = Readable.from([Buffer.from(`${lines.join('\n')}\n`)]);

    const items = await collect(matchRows(csvRows(input, 1_000_000), { fromText: true }));
    assert.deepEqual(outcomes(items, 1), expected);
  });

  it('API NDJSON (non-finite scores, which JSON cannot hold, sent as text)', async () => {
    const lines = EDGES.map((e) =>
      JSON.stringify({
        participant_id: e.participant,
        matched_participant_id: e.matched,
        compatibility_score: e.score === null || Number.isFinite(e.score) ? e.score : String(e.score),
        rank: e.rank === null ? null : Number(e.rank),
      }),
    );
    const input = Readable.from([Buffer.from(`${lines.join('\n')}\n`)]);

    const items = await collect(matchRows(ndjsonRows(input, 1_000_000), { fromText: false }));
    assert.deepEqual(outcomes(items, 0), expected);
  });
});
