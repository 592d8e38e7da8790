import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { ColumnSource } from 'hyparquet-writer';
import { InvalidFileError } from '../../../lib/errors.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import type { ByteRange } from '../../../lib/storage/object-store.ts';
import {
  bytesOf,
  chunkBytes,
  footerRange,
  localStore,
  metadataOf,
  recordingStore,
  tempFolder,
  writeHyparquet,
} from './fixtures.ts';

function matchColumns(rows: number): ColumnSource[] {
  return [
    { name: 'participant_id', data: Array.from({ length: rows }, (_, i) => `p${i}`), type: 'STRING' },
    { name: 'matched_participant_id', data: Array.from({ length: rows }, (_, i) => `m${i}`), type: 'STRING' },
    { name: 'compatibility_score', data: Array.from({ length: rows }, (_, i) => i / rows), type: 'DOUBLE' },
    { name: 'rank', data: Array.from({ length: rows }, (_, i) => i % 10), type: 'INT32' },
    { name: 'reason', data: Array.from({ length: rows }, () => 'shared interests'), type: 'STRING' },
  ];
}

const OPTIONS = { maxRowsPerBatch: 250, maxBatches: 100 };

describe('planMatchFile', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
  });
  after(async () => {
    await folder.remove();
  });

  it('plans batches of whole row groups from the footer alone (the last 8 bytes, then the footer)', async () => {
    const uri = folder.path('five-groups.parquet');
    const bytes = await writeHyparquet(uri, matchColumns(500), { rowGroupSize: 100 });
    const { store, reads } = recordingStore();

    const plan = await planMatchFile(store, uri, OPTIONS);

    const groups = metadataOf(bytes).row_groups.map((g) => g.columns.map(chunkBytes));
    const span = (g: number): ByteRange => ({ start: groups[g]![0]!.start, end: groups[g]!.at(-1)!.end });
    const footer = footerRange(bytes);
    assert.deepEqual(plan, {
      columns: [
        { name: 'participant_id', type: 'BYTE_ARRAY/UTF8' },
        { name: 'matched_participant_id', type: 'BYTE_ARRAY/UTF8' },
        { name: 'compatibility_score', type: 'DOUBLE' },
        { name: 'rank', type: 'INT32' },
        { name: 'reason', type: 'BYTE_ARRAY/UTF8' },
      ],
      total: 500,
      batches: [
        {
          index: 0,
          rowStart: 0,
          rowEnd: 200,
          rowGroups: [0, 1],
          byteRanges: [{ start: 4, end: span(1).end }],
        },
        {
          index: 1,
          rowStart: 200,
          rowEnd: 400,
          rowGroups: [2, 3],
          byteRanges: [{ ...span(2), end: span(3).end }],
        },
        { index: 2, rowStart: 400, rowEnd: 500, rowGroups: [4], byteRanges: [span(4)] },
      ],
    });
    assert.deepEqual(reads, [
      { start: bytes.length - 8, end: bytes.length },
      { start: footer.start, end: bytes.length - 8 },
    ]);
    assert.ok(JSON.stringify(plan).length < 2_000);
  });

  it('grows the batches to stay within maxBatches', async () => {
    const uri = folder.path('ten-groups.parquet');
    await writeHyparquet(uri, matchColumns(1_000), { rowGroupSize: 100 });

    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 100, maxBatches: 3 });

    assert.ok(plan.batches.length <= 3);
    assert.deepEqual(
      plan.batches.map((b) => [b.rowStart, b.rowEnd]),
      [
        [0, 400],
        [400, 800],
        [800, 1_000],
      ],
    );
  });

  it('splits a row group larger than a batch into parts of near-equal size', async () => {
    const uri = folder.path('one-big-group.parquet');
    await writeHyparquet(uri, matchColumns(1_000), { rowGroupSize: 1_000 });

    const plan = await planMatchFile(localStore(), uri, { maxRowsPerBatch: 300, maxBatches: 100 });

    assert.deepEqual(
      plan.batches.map((b) => [b.rowStart, b.rowEnd, b.rowGroups]),
      [
        [0, 250, [0]],
        [250, 500, [0]],
        [500, 750, [0]],
        [750, 1_000, [0]],
      ],
    );
  });

  it('accepts a file without rank, and one without rows', async () => {
    const noRank = folder.path('no-rank.parquet');
    await writeHyparquet(
      noRank,
      matchColumns(10).filter((c) => c.name !== 'rank'),
    );
    const empty = folder.path('no-rows.parquet');
    await writeHyparquet(
      empty,
      matchColumns(0).map((c) => ({ ...c, nullable: false })),
    );

    const withoutRank = await planMatchFile(localStore(), noRank, OPTIONS);
    const withoutRows = await planMatchFile(localStore(), empty, OPTIONS);

    assert.equal(withoutRank.total, 10);
    assert.ok(!withoutRank.columns.some((c) => c.name === 'rank'));
    assert.deepEqual({ total: withoutRows.total, batches: withoutRows.batches }, { total: 0, batches: [] });
  });

  describe('fails the file', () => {
    async function expectCode(uri: string, code: string, details: Record<string, unknown> = {}) {
      await assert.rejects(planMatchFile(localStore(), uri, OPTIONS), (error: unknown) => {
        assert.ok(error instanceof InvalidFileError);
        assert.equal(error.code, code);
        for (const [key, value] of Object.entries(details)) assert.deepEqual(error.details[key], value);
        return true;
      });
    }

    it('NOT_PARQUET when the file is something else', async () => {
      const uri = folder.path('matches.csv');
      await writeFile(uri, 'participant_id,matched_participant_id,compatibility_score\np1,p2,0.5\n');

      await expectCode(uri, 'NOT_PARQUET');
    });

    it('EMPTY_FILE when the file has no bytes', async () => {
      const uri = folder.path('empty.parquet');
      await writeFile(uri, '');

      await expectCode(uri, 'EMPTY_FILE');
    });

    it('TRUNCATED_FOOTER when a Parquet file lost its end', async () => {
      const whole = folder.path('whole.parquet');
      const bytes = await writeHyparquet(whole, matchColumns(100));
      const cutInFooter = folder.path('cut-in-footer.parquet');
      await writeFile(cutInFooter, bytes.subarray(0, bytes.length - 20));
      const cutInData = folder.path('cut-in-data.parquet');
      await writeFile(cutInData, bytes.subarray(0, 200));
      const magicOnly = folder.path('magic-only.parquet');
      await writeFile(magicOnly, bytes.subarray(0, 6));

      await expectCode(cutInFooter, 'TRUNCATED_FOOTER');
      await expectCode(cutInData, 'TRUNCATED_FOOTER');
      await expectCode(magicOnly, 'TRUNCATED_FOOTER');
    });

    it('CORRUPT_FOOTER when the footer length or metadata is wrong', async () => {
      const bytes = await writeHyparquet(folder.path('source.parquet'), matchColumns(100));
      const tooLong = Buffer.from(bytes);
      tooLong.writeUInt32LE(bytes.length, bytes.length - 8);
      const tooLongUri = folder.path('footer-too-long.parquet');
      await writeFile(tooLongUri, tooLong);
      const garbage = Buffer.from(bytes);
      const footer = footerRange(bytes);
      garbage.fill(0xff, footer.start, footer.end - 8);
      const garbageUri = folder.path('footer-garbage.parquet');
      await writeFile(garbageUri, garbage);

      await expectCode(tooLongUri, 'CORRUPT_FOOTER');
      await expectCode(garbageUri, 'CORRUPT_FOOTER');
    });

    for (const missing of ['participant_id', 'matched_participant_id', 'compatibility_score']) {
      it(`MISSING_COLUMN naming ${missing}`, async () => {
        const uri = folder.path(`without-${missing}.parquet`);
        await writeHyparquet(
          uri,
          matchColumns(10).filter((c) => c.name !== missing),
        );

        await expectCode(uri, 'MISSING_COLUMN', { column: missing, missing: [missing] });
      });
    }

    const wrongTypes: [string, ColumnSource['type'], unknown[]][] = [
      ['participant_id', 'INT64', [1n]],
      ['matched_participant_id', 'JSON', [{ id: 1 }]],
      ['compatibility_score', 'STRING', ['0.5']],
      ['rank', 'DOUBLE', [1.5]],
      ['rank', 'TIMESTAMP', [new Date(0)]],
    ];
    for (const [name, type, values] of wrongTypes) {
      it(`WRONG_COLUMN_TYPE when ${name} is ${type}`, async () => {
        const uri = folder.path(`wrong-${name}-${type}.parquet`);
        const columns = matchColumns(1).map((c) => (c.name === name ? { name, data: values, type } : c));
        await writeHyparquet(uri, columns);

        await expectCode(uri, 'WRONG_COLUMN_TYPE', { column: name });
      });
    }

    it('UNSUPPORTED_CODEC when pages use a codec the reader lacks (LZO)', async () => {
      const uri = folder.path('lzo.parquet');
      await writeHyparquet(uri, matchColumns(10), { codec: 'LZO' });

      await expectCode(uri, 'UNSUPPORTED_CODEC', { codec: 'LZO' });
    });

    it('FILE_NOT_FOUND when there is no file', async () => {
      await expectCode(folder.path('nowhere.parquet'), 'FILE_NOT_FOUND');
    });
  });

  it('rejects options that are not positive integers', async () => {
    const uri = folder.path('any.parquet');

    await assert.rejects(planMatchFile(localStore(), uri, { maxRowsPerBatch: 0, maxBatches: 1 }), RangeError);
    await assert.rejects(
      planMatchFile(localStore(), uri, { maxRowsPerBatch: 1, maxBatches: 1.5 }),
      RangeError,
    );
  });

  it('counts only the footer against the file size', async () => {
    const uri = folder.path('counted.parquet');
    const bytes = await writeHyparquet(uri, matchColumns(2_000), { rowGroupSize: 500 });
    const { store, reads } = recordingStore();

    await planMatchFile(store, uri, OPTIONS);

    const footer = footerRange(bytes);
    assert.equal(bytesOf(reads), footer.end - footer.start);
    assert.equal(reads.length, 2);
  });

  it('describes the types of columns of every kind', async () => {
    const uri = folder.path('types.parquet');
    await writeHyparquet(uri, [
      ...matchColumns(2),
      { name: 'at', data: [new Date(0), new Date(1)], type: 'TIMESTAMP' },
      { name: 'big', data: [1n, 2n], type: 'INT64' },
      { name: 'doc', data: [{ a: 1 }, null], type: 'JSON' },
      { name: 'ok', data: [true, false], type: 'BOOLEAN' },
    ]);

    const plan = await planMatchFile(localStore(), uri, OPTIONS);

    assert.deepEqual(plan.columns.slice(5), [
      { name: 'at', type: 'INT64/TIMESTAMP_MILLIS' },
      { name: 'big', type: 'INT64' },
      { name: 'doc', type: 'BYTE_ARRAY/JSON' },
      { name: 'ok', type: 'BOOLEAN' },
    ]);
  });
});
