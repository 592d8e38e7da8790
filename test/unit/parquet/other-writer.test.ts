import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Bool,
  DateDay,
  Dictionary,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { MatchRejectionCode } from '../../../lib/matches/match-row-rules.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import {
  bytesOf,
  CODECS,
  chunkBytes,
  collect,
  footerRange,
  inside,
  localStore,
  MORE_CODECS,
  metadataOf,
  readMatchRows,
  recordingStore,
  splitRows,
  tempFolder,
  writeArrowRs,
} from './fixtures.ts';

const ROWS = 1_000;
const BASE_MICROS = 1_735_689_600_000_000n; // 2025-01-01T00:00:00Z

/** A match table as a data engineer would write it with Arrow: dictionary strings, INT64, nested columns. */
function arrowTable(): Table {
  const participant = Array.from({ length: ROWS }, (_, i) => (i === 2 ? null : `participant-${i % 97}`));
  const matched = Array.from({ length: ROWS }, (_, i) => `matched-${i}`);
  const score = Float64Array.from({ length: ROWS }, (_, i) => (i === 3 ? Number.NaN : i / ROWS));
  const micros = BigInt64Array.from({ length: ROWS }, (_, i) => BASE_MICROS + BigInt(i) * 1_000_001n);
  const days = Int32Array.from({ length: ROWS }, (_, i) => 20_089 + (i % 30));
  return new Table({
    participant_id: vectorFromArray(participant, new Utf8()),
    matched_participant_id: vectorFromArray(matched, new Utf8()),
    compatibility_score: makeVector(score),
    rank: vectorFromArray(
      Array.from({ length: ROWS }, (_, i) => (i % 4 === 0 ? null : BigInt(i % 50))),
      new Int64(),
    ),
    label: vectorFromArray(
      Array.from({ length: ROWS }, (_, i) => `label-${i % 3}`),
      new Dictionary(new Utf8(), new Int32()),
    ),
    big: makeVector(BigInt64Array.from({ length: ROWS }, (_, i) => 2n ** 60n + BigInt(i))),
    created: makeVector(
      makeData({ type: new TimestampMicrosecond(), length: ROWS, nullCount: 0, data: micros }),
    ),
    day: makeVector(makeData({ type: new DateDay(), length: ROWS, nullCount: 0, data: days })),
    flag: vectorFromArray(
      Array.from({ length: ROWS }, (_, i) => i % 2 === 0),
      new Bool(),
    ),
    tags: vectorFromArray(
      Array.from({ length: ROWS }, (_, i) => [i, i + 1]),
      new List(new Field('item', new Int32(), true)),
    ),
    meta: vectorFromArray(
      Array.from({ length: ROWS }, (_, i) => ({ source: `s${i % 2}`, version: i % 5 })),
      new Struct([new Field('source', new Utf8(), true), new Field('version', new Int32(), true)]),
    ),
  });
}

function isoMicros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000n).padStart(3, '0')}Z`;
}

describe('readMatchRows on files written by arrow-rs (parquet-wasm)', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  const table = arrowTable();
  before(async () => {
    folder = await tempFolder();
  });
  after(async () => {
    await folder.remove();
  });

  for (const codec of [...CODECS, ...MORE_CODECS]) {
    for (const dataPageV2 of [false, true]) {
      it(`reads a ${codec} file with data pages ${dataPageV2 ? 'v2' : 'v1'} and dictionaries`, async () => {
        const uri = folder.path(`arrow-${codec}-${dataPageV2 ? 'v2' : 'v1'}.parquet`);
        const bytes = await writeArrowRs(uri, table, { codec, maxRowGroupRows: 300, dataPageV2 });
        const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 450, maxBatches: 10 });

        const items = [];
        for (const batch of plan.batches) {
          items.push(...(await collect(readMatchRows(localStore(), uri, batch, plan.columns))));
        }

        const metadata = metadataOf(bytes);
        const { rows, rejections } = splitRows(items);
        assert.match(metadata.created_by ?? '', /parquet-rs/);
        assert.equal(metadata.row_groups.length, 4);
        assert.ok(metadata.row_groups.every((g) => g.columns.every((c) => c.meta_data?.codec === codec)));
        assert.ok(metadata.row_groups[0]!.columns[0]!.meta_data?.encodings.includes('RLE_DICTIONARY'));
        assert.deepEqual(plan.total, ROWS);
        assert.deepEqual(
          rejections.map((r) => [r.row, r.code]),
          [
            [2, MatchRejectionCode.MISSING_PARTICIPANT],
            [3, MatchRejectionCode.INVALID_SCORE],
          ],
        );
        assert.equal(rows.length, ROWS - 2);
        assert.deepEqual(
          rows.map((r) => r.row),
          Array.from({ length: ROWS }, (_, i) => i).filter((i) => i !== 2 && i !== 3),
        );
        const row = rows.find((r) => r.row === 123)!;
        assert.deepEqual(row, {
          row: 123,
          participantId: `participant-${123 % 97}`,
          matchedParticipantId: 'matched-123',
          compatibilityScore: 0.123,
          rank: 23,
          details: {
            label: 'label-0',
            big: (2n ** 60n + 123n).toString(),
            created: isoMicros(BASE_MICROS + 123n * 1_000_001n),
            day: new Date((20_089 + (123 % 30)) * 86_400_000).toISOString().slice(0, 10),
            flag: false,
            tags: [123, 124],
            meta: { source: 's1', version: 3 },
          },
        });
        assert.equal(rows.find((r) => r.row === 4)?.rank, null);
      });
    }
  }

  it('reads the pages of a split row group only, through the offset indexes arrow-rs writes', async () => {
    const uri = folder.path('arrow-split.parquet');
    const bytes = await writeArrowRs(uri, table, {
      codec: 'SNAPPY',
      maxRowGroupRows: ROWS,
      dataPageBytes: 1_024,
      // Without dictionaries the pages hold the values, so reading a part of them reads fewer bytes.
      dictionary: false,
    });
    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 250, maxBatches: 10 });
    const { store, reads } = recordingStore();
    const footer = footerRange(bytes);

    const items = [];
    const outside = [];
    const dataBytes = [];
    for (const batch of plan.batches) {
      const before = reads.length;
      items.push(...(await collect(readMatchRows(store, uri, batch, plan.columns))));
      const own = reads.slice(before);
      outside.push(...own.filter((r) => !inside(r, [...batch.byteRanges, footer])));
      dataBytes.push(bytesOf(own.filter((r) => !inside(r, [footer]))));
    }

    const groupBytes = bytesOf(metadataOf(bytes).row_groups[0]!.columns.map(chunkBytes));
    assert.equal(plan.batches.length, 4);
    assert.ok(metadataOf(bytes).row_groups[0]!.columns.every((c) => c.offset_index_length));
    assert.deepEqual(
      items.map((item) => item.row),
      Array.from({ length: ROWS }, (_, i) => i),
    );
    assert.deepEqual(outside, []);
    assert.ok(
      dataBytes.every((n) => n < groupBytes * 0.6),
      `${dataBytes} vs ${groupBytes}`,
    );
  });
});
