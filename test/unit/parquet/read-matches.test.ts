import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { ColumnSource } from 'hyparquet-writer';
import { MatchRejectionCode } from '../../../lib/matches/match-row-rules.ts';
import type { MatchRow } from '../../../lib/matches/match-rows.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import type { MatchPlan } from '../../../lib/parquet/types.ts';
import {
  bytesOf,
  CODECS,
  chunkBytes,
  collect,
  footerRange,
  inside,
  localStore,
  metadataOf,
  readMatchRows,
  recordingStore,
  splitRows,
  tempFolder,
  writeHyparquet,
} from './fixtures.ts';

interface Source {
  readonly participant: (string | null)[];
  readonly matched: (string | null)[];
  readonly score: (number | null)[];
  readonly rank: (number | null)[];
  readonly note: (string | null)[];
  readonly weight: bigint[];
  readonly seenAt: Date[];
}

/** Valid match rows; every 7th has no rank and every 5th no note. */
function source(rows: number): Source {
  const s: Source = { participant: [], matched: [], score: [], rank: [], note: [], weight: [], seenAt: [] };
  for (let i = 0; i < rows; i++) {
    s.participant.push(`p-${Math.floor(i / 10)}`);
    s.matched.push(`m-${i}`);
    s.score.push((i % 100) / 100 + 0.005);
    s.rank.push(i % 7 === 0 ? null : (i % 10) + 1);
    s.note.push(i % 5 === 0 ? null : `note ${i} é`);
    // Past 2^53 every 3rd row: must come back as an exact decimal string.
    s.weight.push(i % 3 === 0 ? 2n ** 60n + BigInt(i) : BigInt(i) * 1000n);
    s.seenAt.push(new Date(Date.UTC(2025, 0, 1) + i * 61_001));
  }
  return s;
}

function columnsOf(s: Source): ColumnSource[] {
  return [
    { name: 'participant_id', data: s.participant, type: 'STRING' },
    { name: 'matched_participant_id', data: s.matched, type: 'STRING' },
    { name: 'compatibility_score', data: s.score, type: 'DOUBLE' },
    { name: 'rank', data: s.rank, type: 'INT32' },
    { name: 'note', data: s.note, type: 'STRING' },
    { name: 'weight', data: s.weight, type: 'INT64' },
    { name: 'seen_at', data: s.seenAt, type: 'TIMESTAMP' },
  ];
}

function expectedRow(s: Source, i: number): MatchRow {
  const weight = s.weight[i]!;
  const note = s.note[i];
  return {
    row: i,
    participantId: s.participant[i]!,
    matchedParticipantId: s.matched[i]!,
    compatibilityScore: s.score[i]!,
    rank: s.rank[i] ?? null,
    details: {
      ...(note === null ? {} : { note }),
      weight: weight <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(weight) : weight.toString(),
      seen_at: s.seenAt[i]!.toISOString(),
    },
  };
}

async function readAll(uri: string, plan: MatchPlan, options: { maxRowsPerRead?: number } = {}) {
  const store = localStore();
  const items = [];
  for (const batch of plan.batches)
    items.push(...(await collect(readMatchRows(store, uri, batch, plan.columns, options))));
  return items;
}

describe('readMatchRows', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
  });
  after(async () => {
    await folder.remove();
  });

  for (const codec of CODECS) {
    it(`reads back every row of a ${codec} file of several row groups, in file order`, async () => {
      const s = source(2_500);
      const uri = folder.path(`codec-${codec}.parquet`);
      const bytes = await writeHyparquet(uri, columnsOf(s), { codec, rowGroupSize: 1_000 });
      const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 1_000, maxBatches: 10 });

      const items = await readAll(uri, plan);

      const metadata = metadataOf(bytes);
      assert.equal(metadata.row_groups.length, 3);
      assert.ok(metadata.row_groups.every((g) => g.columns.every((c) => c.meta_data?.codec === codec)));
      assert.equal(plan.batches.length, 3);
      assert.deepEqual(
        items,
        s.participant.map((_, i) => expectedRow(s, i)),
      );
    });
  }

  it('rejects exactly the bad rows, each by its row index (line = row + 1), and loads the rest', async () => {
    const s = source(1_200);
    const bad = new Map<number, string>([
      [3, MatchRejectionCode.MISSING_PARTICIPANT],
      [250, MatchRejectionCode.MISSING_PARTICIPANT],
      [251, MatchRejectionCode.MISSING_PARTICIPANT],
      [499, MatchRejectionCode.INVALID_SCORE],
      [500, MatchRejectionCode.INVALID_SCORE],
      [501, MatchRejectionCode.INVALID_SCORE],
      [502, MatchRejectionCode.INVALID_SCORE],
      [777, MatchRejectionCode.SELF_MATCH],
      [1_000, MatchRejectionCode.PARTICIPANT_ID_TOO_LONG],
      [1_199, MatchRejectionCode.MISSING_PARTICIPANT],
    ]);
    s.participant[3] = null;
    s.matched[250] = '';
    s.participant[251] = ' \t ';
    s.score[499] = Number.NaN;
    s.score[500] = Number.POSITIVE_INFINITY;
    s.score[501] = Number.NEGATIVE_INFINITY;
    s.score[502] = null;
    s.matched[777] = s.participant[777]!;
    s.matched[1_000] = 'x'.repeat(256);
    s.matched[1_199] = null;
    // 255 characters (some beyond the BMP, two UTF-16 units each) is still a valid id.
    s.participant[1_001] = '😀'.repeat(255);
    const uri = folder.path('failed-rows.parquet');
    await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 400 });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 500, maxBatches: 10 });

    const { rows, rejections } = splitRows(await readAll(uri, plan));

    assert.deepEqual(
      rejections.map((r) => [r.row, r.line, r.code]),
      [...bad].map(([row, code]) => [row, row + 1, code]),
    );
    assert.equal(rejections.find((r) => r.row === 777)?.reference, s.participant[777]);
    assert.equal(rejections.find((r) => r.row === 3)?.reference, null);
    assert.equal(rows.length, 1_200 - bad.size);
    assert.deepEqual(
      rows.map((r) => r.row),
      s.participant.map((_, i) => i).filter((i) => !bad.has(i)),
    );
    assert.equal(rows.find((r) => r.row === 1_001)?.participantId, '😀'.repeat(255));
  });

  it('rejects a rank outside the 32-bit range of the table and reads INT64 ranks otherwise', async () => {
    const s = source(30);
    const ranks = s.rank.map((r) => (r === null ? null : BigInt(r)));
    ranks[4] = 2n ** 31n;
    ranks[5] = -(2n ** 31n);
    const columns = columnsOf(s).map((c) =>
      c.name === 'rank' ? { ...c, data: ranks, type: 'INT64' as const } : c,
    );
    const uri = folder.path('rank-int64.parquet');
    await writeHyparquet(uri, columns);
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 100, maxBatches: 10 });

    const { rows, rejections } = splitRows(await readAll(uri, plan));

    assert.deepEqual(
      rejections.map((r) => [r.row, r.code]),
      [[4, MatchRejectionCode.INVALID_RANK]],
    );
    assert.equal(rows.find((r) => r.row === 5)?.rank, -(2 ** 31));
    assert.equal(rows.find((r) => r.row === 6)?.rank, 7);
  });

  it("reads a batch's row groups and footer only: exactly their column chunks, in the batch's ranges", async () => {
    const s = source(4_000);
    const uri = folder.path('minimal-reads.parquet');
    const bytes = await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 1_000, codec: 'ZSTD' });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 2_000, maxBatches: 10 });
    const batch = plan.batches[1]!;
    const { store, reads } = recordingStore();

    const items = await collect(readMatchRows(store, uri, batch, plan.columns));

    const metadata = metadataOf(bytes);
    const footer = footerRange(bytes);
    const chunks = batch.rowGroups.flatMap((g) => metadata.row_groups[g]!.columns.map(chunkBytes));
    const dataReads = reads.filter((r) => !inside(r, [footer]));
    assert.deepEqual(batch.rowGroups, [2, 3]);
    assert.equal(items.length, 2_000);
    assert.ok(reads.every((r) => inside(r, [...batch.byteRanges, footer])));
    assert.equal(bytesOf(reads.filter((r) => inside(r, [footer]))), footer.end - footer.start);
    assert.equal(bytesOf(dataReads), bytesOf(chunks));
    assert.ok(bytesOf(reads) <= bytesOf(chunks) + (footer.end - footer.start));
  });

  for (const offsetIndex of [true, false]) {
    it(`reads each row once when a row group is split into batches (${offsetIndex ? 'with' : 'without'} offset indexes)`, async () => {
      const s = source(5_000);
      const uri = folder.path(`split-${offsetIndex}.parquet`);
      const bytes = await writeHyparquet(uri, columnsOf(s), {
        rowGroupSize: 5_000,
        pageSize: 4_096,
        offsetIndex,
      });
      const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 1_200, maxBatches: 10 });
      const { store, reads } = recordingStore();

      const items = [];
      const dataBytes: number[] = [];
      const footer = footerRange(bytes);
      for (const batch of plan.batches) {
        const before = reads.length;
        items.push(...(await collect(readMatchRows(store, uri, batch, plan.columns))));
        const own = reads.slice(before);
        assert.ok(own.every((r) => inside(r, [...batch.byteRanges, footer])));
        dataBytes.push(bytesOf(own.filter((r) => !inside(r, [footer]))));
      }

      const groupBytes = bytesOf(metadataOf(bytes).row_groups[0]!.columns.map(chunkBytes));
      assert.equal(plan.batches.length, 5);
      assert.ok(plan.batches.every((b) => b.rowGroups.length === 1 && b.rowGroups[0] === 0));
      assert.deepEqual(
        items,
        s.participant.map((_, i) => expectedRow(s, i)),
      );
      // With offset indexes, a part of the row group reads only the pages that hold its rows.
      if (offsetIndex) assert.ok(dataBytes.slice(1, -1).every((n) => n < groupBytes / 2));
      else assert.ok(dataBytes.every((n) => n === groupBytes));
    });
  }

  it('decodes a large row group in parts of maxRowsPerRead rows, yielding the same rows', async () => {
    const s = source(3_000);
    const uri = folder.path('parts.parquet');
    await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 3_000, pageSize: 2_048 });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 3_000, maxBatches: 10 });
    const reads: number[] = [];
    const store = localStore();

    const items = await collect(
      readMatchRows(store, uri, plan.batches[0]!, plan.columns, {
        maxRowsPerRead: 700,
        onRead: () => reads.push(1),
      }),
    );
    const whole = await collect(
      readMatchRows(store, uri, plan.batches[0]!, plan.columns, { onRead: () => reads.push(2) }),
    );

    assert.deepEqual(items, whole);
    assert.deepEqual(
      items,
      s.participant.map((_, i) => expectedRow(s, i)),
    );
    assert.ok(reads.filter((r) => r === 1).length > reads.filter((r) => r === 2).length);
  });

  it('fails with FILE_CHANGED when the file no longer has the planned columns or row groups', async () => {
    const s = source(300);
    const uri = folder.path('changed.parquet');
    await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 100 });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 100, maxBatches: 10 });

    await writeHyparquet(uri, columnsOf(s).slice(0, 4), { rowGroupSize: 100 });
    await assert.rejects(collect(readMatchRows(localStore(), uri, plan.batches[2]!, plan.columns)), {
      name: 'InvalidFileError',
      code: 'FILE_CHANGED',
    });
    await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 300 });
    await assert.rejects(collect(readMatchRows(localStore(), uri, plan.batches[2]!, plan.columns)), {
      name: 'InvalidFileError',
      code: 'FILE_CHANGED',
    });
  });

  it('fails with CORRUPT_DATA when a page of the batch cannot be decoded', async () => {
    const s = source(1_000);
    const uri = folder.path('corrupt-page.parquet');
    const bytes = await writeHyparquet(uri, columnsOf(s), { rowGroupSize: 500 });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 500, maxBatches: 10 });
    const chunk = chunkBytes(metadataOf(bytes).row_groups[1]!.columns[0]!);
    const damaged = Buffer.from(await readFile(uri));
    damaged.fill(0xff, chunk.start, chunk.start + 32);
    await writeFile(uri, damaged);

    const first = await collect(readMatchRows(localStore(), uri, plan.batches[0]!, plan.columns));
    const second = collect(readMatchRows(localStore(), uri, plan.batches[1]!, plan.columns));

    assert.equal(first.length, 500);
    await assert.rejects(second, { name: 'InvalidFileError', code: 'CORRUPT_DATA' });
  });

  it('rejects a malformed batch before reading anything', async () => {
    const uri = folder.path('never-read.parquet');
    const { store, reads } = recordingStore();
    const batch = { index: 0, rowStart: 10, rowEnd: 10, rowGroups: [0], byteRanges: [] };

    await assert.rejects(collect(readMatchRows(store, uri, batch, [])), RangeError);
    assert.equal(reads.length, 0);
  });
});
