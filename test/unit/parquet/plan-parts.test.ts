import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeMatchParquet } from '../../../bench/generate-matches.ts';
import { planMatchParts } from '../../../lib/parquet/plan-parts.ts';
import type { SourcePart } from '../../../lib/parquet/source-parts.ts';
import { localStore, tempFolder, writeHyparquet } from './fixtures.ts';

async function* partsOf(parts: readonly SourcePart[]): AsyncGenerator<SourcePart> {
  yield* parts;
}

describe('planMatchParts', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  const part = (name: string): SourcePart => ({ uri: folder.path(name), name });
  before(async () => {
    folder = await tempFolder();
    writeMatchParquet(folder.path('big.parquet'), 8_000, { rowGroupRows: 1_000, codec: 'ZSTD' });
    writeMatchParquet(folder.path('small.parquet'), 500, { rowGroupRows: 500, codec: 'GZIP' });
    writeMatchParquet(folder.path('mid.parquet'), 2_000, { rowGroupRows: 1_000, codec: 'SNAPPY' });
    await writeHyparquet(folder.path('other-columns.parquet'), [
      { name: 'participant_id', data: ['a'], type: 'STRING' },
      { name: 'matched_participant_id', data: ['b'], type: 'STRING' },
      { name: 'compatibility_score', data: [0.5], type: 'DOUBLE' },
    ]);
  });
  after(() => folder.remove());
  const store = localStore();

  it('numbers rows across parts in part order and shares maxBatches by rows, one batch at least each', async () => {
    const plan = await planMatchParts(
      store,
      partsOf([part('small.parquet'), part('big.parquet'), part('mid.parquet')]),
      { maxRowsPerBatch: 1_000, maxBatches: 6 },
    );

    assert.equal(plan.total, 10_500);
    assert.deepEqual(
      plan.parts.map((p) => [p.index, p.name, p.firstRow, p.rows]),
      [
        [0, 'small.parquet', 0, 500],
        [1, 'big.parquet', 500, 8_000],
        [2, 'mid.parquet', 8_500, 2_000],
      ],
    );
    assert.ok(plan.parts.every((p) => p.pin.size > 0 && p.pin.modifiedAt !== undefined));
    assert.ok(plan.batches.length <= 6, `${plan.batches.length} batches`);
    assert.deepEqual(
      plan.batches.map((batch) => batch.index),
      plan.batches.map((_, i) => i),
    );
    for (const index of [0, 1, 2]) {
      const batches = plan.batches.filter((batch) => batch.part?.index === index);
      assert.ok(batches.length >= 1, `part ${index} has a batch`);
      const rows = batches.reduce((sum, batch) => sum + batch.rowEnd - batch.rowStart, 0);
      assert.equal(rows, plan.parts[index]!.rows);
      assert.ok(batches.every((batch) => batch.part?.firstRow === plan.parts[index]!.firstRow));
    }
  });

  it('refuses a part whose columns differ from the first part: PART_COLUMNS_DIFFER naming it', async () => {
    await assert.rejects(
      planMatchParts(store, partsOf([part('mid.parquet'), part('other-columns.parquet')]), {
        maxRowsPerBatch: 1_000,
        maxBatches: 10,
      }),
      (error: Error & { code?: string }) =>
        error.code === 'PART_COLUMNS_DIFFER' && error.message.includes('other-columns.parquet'),
    );
  });

  it('refuses more parts with rows than maxBatches: TOO_MANY_PARTS', async () => {
    await assert.rejects(
      planMatchParts(store, partsOf([part('small.parquet'), part('mid.parquet'), part('big.parquet')]), {
        maxRowsPerBatch: 1_000,
        maxBatches: 2,
      }),
      { code: 'TOO_MANY_PARTS' },
    );
  });
});
