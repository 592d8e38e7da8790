import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { tableFromArrays } from 'apache-arrow';
import { pageProblem, readPageHeader } from '../../../lib/parquet/page-headers.ts';
import { planMatchFile } from '../../../lib/parquet/plan-matches.ts';
import {
  chunkBytes,
  collect,
  localStore,
  metadataOf,
  readMatchRows,
  tempFolder,
  writeArrowRs,
} from './fixtures.ts';

const ROWS = 300;
const table = tableFromArrays({
  participant_id: Array.from({ length: ROWS }, (_, i) => `p-${i}`),
  matched_participant_id: Array.from({ length: ROWS }, (_, i) => `m-${i}`),
  compatibility_score: Float64Array.from({ length: ROWS }, (_, i) => i / ROWS),
});

/** Every page header of a column chunk, walked from its start: offset and header. */
function pagesOf(bytes: Uint8Array, start: number, end: number) {
  const pages = [];
  for (let at = start; at < end; ) {
    const page = readPageHeader(bytes, at);
    pages.push({ at, page });
    at += page.headerBytes + page.compressedBytes;
  }
  return pages;
}

/** The offset of the zigzag varint `value` inside `bytes[from, to)`, right after a field header byte. */
function varintAt(bytes: Uint8Array, from: number, to: number, value: number): number {
  const zigzag = value * 2;
  const encoded = zigzag < 128 ? [zigzag] : [(zigzag & 0x7f) | 0x80, zigzag >> 7];
  for (let at = from + 1; at + encoded.length <= to; at++) {
    if (encoded.every((b, i) => bytes[at + i] === b)) return at;
  }
  throw new Error(`value ${value} not found in the page header`);
}

describe('page header checks', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
  });
  after(async () => {
    await folder.remove();
  });

  for (const dataPageV2 of [false, true]) {
    const version = dataPageV2 ? 'V2' : 'V1';

    it(`reads the ${version} page headers of a chunk from its start to exactly its end`, async () => {
      const bytes = await writeArrowRs(folder.path(`walk-${version}.parquet`), table, {
        codec: 'SNAPPY',
        maxRowGroupRows: ROWS,
        dataPageV2,
      });
      const chunk = metadataOf(bytes).row_groups[0]!.columns[0]!;
      const { start, end } = chunkBytes(chunk);

      const pages = pagesOf(bytes, start, end);
      const last = pages.at(-1)!;

      assert.equal(last.at + last.page.headerBytes + last.page.compressedBytes, end);
      const dataPages = pages.filter(({ page }) => page.type === 0 || page.type === 3);
      assert.equal(
        dataPages.reduce((sum, { page }) => sum + (page.values ?? 0), 0),
        Number(chunk.meta_data!.num_values),
      );
      for (const { at, page } of pages) assert.equal(pageProblem(page, ROWS, end - at), undefined);
    });

    it(`refuses a ${version} data page claiming more values than its chunk, before decoding it`, async () => {
      const path = folder.path(`overcount-${version}.parquet`);
      const bytes = await writeArrowRs(path, table, {
        codec: 'UNCOMPRESSED',
        maxRowGroupRows: ROWS,
        dataPageV2,
        dictionary: false,
      });
      const chunk = metadataOf(bytes).row_groups[0]!.columns[0]!;
      const { start, end } = chunkBytes(chunk);
      const [first] = pagesOf(bytes, start, end);
      assert.ok(first && (first.page.type === 0 || first.page.type === 3), 'a data page first');
      // The count rewritten in place, same length: 300 (zigzag 600, two bytes) becomes 8191.
      const at = varintAt(bytes, first.at, first.at + first.page.headerBytes, ROWS);
      bytes.set([0xfe, 0x7f], at);
      await writeFile(path, bytes);
      const store = localStore();
      const plan = await planMatchFile(store, path, { maxRowsPerBatch: ROWS, maxBatches: 10 });

      await assert.rejects(collect(readMatchRows(store, path, plan.batches[0]!, plan.columns)), {
        name: 'InvalidFileError',
        code: 'CORRUPT_DATA',
        message: /column participant_id of row group 0 has a page of 8191 values in a column chunk of 300/,
      });
    });
  }

  it('names each impossible page', () => {
    const page = { headerBytes: 10, type: 3, uncompressedBytes: 100, compressedBytes: 90, values: 50 };
    assert.equal(pageProblem(page, 50, 100), undefined);
    assert.match(pageProblem({ ...page, compressedBytes: -1 }, 50, 100) ?? '', /negative page size/);
    assert.match(pageProblem(page, 50, 99) ?? '', /runs past its column chunk/);
    assert.match(pageProblem({ ...page, values: 51 }, 50, 100) ?? '', /51 values in a column chunk of 50/);
    assert.match(pageProblem({ ...page, rows: 60 }, 50, 100) ?? '', /60 rows and 50 values/);
    assert.match(pageProblem({ ...page, nulls: -1 }, 50, 100) ?? '', /-1 nulls/);
    assert.match(pageProblem({ ...page, levelBytes: 91 }, 50, 100) ?? '', /levels larger/);
    assert.match(pageProblem({ ...page, type: 2, values: 801 }, 50, 100) ?? '', /dictionary of 801/);
  });

  it('refuses bytes that are not a page header', () => {
    assert.throws(() => readPageHeader(new Uint8Array([0x15, 0x00]), 0), RangeError);
    assert.throws(() => readPageHeader(new Uint8Array([0x00]), 0), /without its type or sizes/);
  });
});
