import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { type ParsedRow, parseCsvRange } from '../../../lib/csv/parse-range.ts';
import { planCsvRanges, planGzipParts } from '../../../lib/csv/plan-csv.ts';
import type { CsvPlan, RowRejection } from '../../../lib/jobs/types.ts';

const MAX_RECORD_BYTES = 1 << 16;
const RAW_HEADER = 'Reference ID,first name,bio';

/** A cell value: commas, quotes, line endings, a bare `\r`, non-ASCII, or nothing. */
const text = fc
  .array(fc.constantFrom('a', 'b', 'Z', ' ', ',', '"', '\n', '\r\n', '\r', 'é', '😀', '€'), { maxLength: 8 })
  .map((units) => units.join(''));

/** A field as written in the file: escaped (quoted when needed, or at random), or raw garbage. */
const field: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(text, fc.boolean())
      .map(([value, forceQuotes]) =>
        Buffer.from(forceQuotes || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value),
      ),
  },
  // Unescaped quotes and line endings: malformed records must still be delimited the same way.
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom('a', ',', '"', '\r', '\n'), { maxLength: 5 })
      .map((units) => Buffer.from(units.join(''))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82])),
  },
);

const lineEnding = fc.constantFrom('\n', '\r\n');

const row = fc.record({
  fields: fc.oneof(
    { weight: 6, arbitrary: fc.array(field, { minLength: 3, maxLength: 3 }) },
    {
      weight: 1,
      arbitrary: fc.array(field, { minLength: 1, maxLength: 5 }),
    },
  ),
  ending: lineEnding,
  blankLinesBefore: fc.array(lineEnding, { maxLength: 2 }),
});

const csvFile = fc
  .record({
    bom: fc.boolean(),
    headerEnding: lineEnding,
    rows: fc.array(row, { maxLength: 25 }),
    trailingNewline: fc.boolean(),
  })
  .map(({ bom, headerEnding, rows, trailingNewline }) => {
    const head = Buffer.from(`${bom ? '\uFEFF' : ''}${RAW_HEADER}${headerEnding}`);
    const pieces: Buffer[] = [head];
    rows.forEach((r, k) => {
      for (const blank of r.blankLinesBefore) pieces.push(Buffer.from(blank));
      r.fields.forEach((f, c) => {
        if (c > 0) pieces.push(Buffer.from(','));
        pieces.push(f);
      });
      if (trailingNewline || k < rows.length - 1) pieces.push(Buffer.from(r.ending));
    });
    return { bytes: Buffer.concat(pieces), dataStart: head.length };
  });

const chunkSizes = fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 6 });

async function* chunked(bytes: Buffer, sizes: readonly number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

type Item = ParsedRow | RowRejection;

async function parseAll(bytes: Buffer, sizes: readonly number[], plan: CsvPlan, firstLine: number) {
  const items: Item[] = [];
  for await (const item of parseCsvRange(chunked(bytes, sizes), {
    header: plan.header,
    referenceColumn: plan.referenceColumn,
    firstLine,
    maxRecordBytes: MAX_RECORD_BYTES,
  })) {
    items.push(item);
  }
  return items;
}

async function parseBatches(plan: CsvPlan, read: (uri: string) => Buffer, sizes: readonly number[]) {
  const items: Item[] = [];
  for (const batch of plan.batches) {
    const bytes = read(batch.uri).subarray(batch.start, batch.end);
    items.push(...(await parseAll(bytes, sizes, plan, batch.firstLine)));
  }
  return items;
}

describe('planning then parsing range by range', () => {
  it('gives the same rows, in the same order, as parsing the whole data section at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvFile,
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 12 }),
        chunkSizes,
        chunkSizes,
        async ({ bytes, dataStart }, splitBytes, maxBatches, planChunks, parseChunks) => {
          const plan = await planCsvRanges(chunked(bytes, planChunks), {
            uri: 'file.csv',
            size: bytes.length,
            splitBytes,
            maxBatches,
            maxRecordBytes: MAX_RECORD_BYTES,
          });

          const whole = await parseAll(bytes.subarray(dataStart), [bytes.length], plan, 2);
          const ranged = await parseBatches(plan, () => bytes, parseChunks);

          assert.deepEqual(ranged, whole);
          assert.equal(plan.total, whole.length);
          assert.deepEqual(plan.header, ['reference_id', 'first_name', 'bio']);
          assert.ok(plan.batches.length <= maxBatches);
          plan.batches.forEach((batch, k) => {
            assert.ok(batch.start >= dataStart);
            assert.equal(batch.end, plan.batches[k + 1]?.start ?? bytes.length);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same rows from gzip parts as from the plain file', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvFile,
        fc.integer({ min: 1, max: 64 }),
        chunkSizes,
        chunkSizes,
        async ({ bytes }, splitBytes, gzipChunks, parseChunks) => {
          const parts = new Map<string, Buffer>();
          const writePart = async (index: number, body: AsyncIterable<Buffer>) => {
            const pieces: Buffer[] = [];
            for await (const piece of body) pieces.push(piece);
            const uri = `mem://${index}`;
            parts.set(uri, Buffer.concat(pieces));
            return { uri, size: parts.get(uri)!.length };
          };
          const options = { uri: 'file.csv', splitBytes, maxRecordBytes: MAX_RECORD_BYTES };

          const gzipPlan = await planGzipParts(chunked(gzipSync(bytes), gzipChunks), {
            ...options,
            writePart,
          });
          const plainPlan = await planCsvRanges(chunked(bytes, [7]), {
            ...options,
            size: bytes.length,
            maxBatches: bytes.length,
          });

          assert.deepEqual(
            await parseBatches(gzipPlan, (uri) => parts.get(uri)!, parseChunks),
            await parseBatches(plainPlan, () => bytes, parseChunks),
          );
          assert.deepEqual(
            gzipPlan.batches.map((b) => [b.end - b.start, b.firstLine, b.records]),
            plainPlan.batches.map((b) => [b.end - b.start, b.firstLine, b.records]),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
