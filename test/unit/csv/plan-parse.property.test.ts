import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { planGzipParts } from '../../../lib/csv/gzip-parts.ts';
import { type ParsedRow, parseCsvRange } from '../../../lib/csv/parse-range.ts';
import { planCsvRanges } from '../../../lib/csv/plan-csv.ts';
import type { CsvPlan, RowRejection } from '../../../lib/model/types.ts';
import { chunked, chunkSizes, csvFile, MAX_RECORD_BYTES } from '../../support/csv-arbitraries.ts';

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
          const options = { uri: 'file.csv', splitBytes, maxRecordBytes: MAX_RECORD_BYTES, maxRatio: 200 };

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
