import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RowGroupLayout } from '../../../lib/parquet/footer.ts';
import { planRowGroupBatches } from '../../../lib/parquet/plan-matches.ts';

/** Row groups laid out one after the other, as writers do; some without rows, some with offset indexes. */
const rowGroups = fc
  .array(fc.record({ rows: fc.integer({ min: 0, max: 5_000 }), offsetIndex: fc.boolean() }), {
    maxLength: 40,
  })
  .map((specs) => {
    let rowStart = 0;
    let byte = 4;
    return specs.map(({ rows, offsetIndex }, index): RowGroupLayout => {
      const data = { start: byte, end: byte + 10 + rows };
      byte = data.end;
      const group: RowGroupLayout = {
        index,
        rowStart,
        rows,
        data,
        ...(offsetIndex
          ? { offsetIndex: { start: 1_000_000 + index * 10, end: 1_000_000 + index * 10 + 5 } }
          : {}),
      };
      rowStart += rows;
      return group;
    });
  });

describe('planRowGroupBatches', () => {
  it('covers every row exactly once, in order, within maxBatches, with whole row groups or parts of one', () => {
    fc.assert(
      fc.property(
        rowGroups,
        fc.integer({ min: 1, max: 3_000 }),
        fc.integer({ min: 1, max: 50 }),
        (groups, maxRowsPerBatch, maxBatches) => {
          const batches = planRowGroupBatches(groups, { maxRowsPerBatch, maxBatches });

          const total = groups.reduce((sum, g) => sum + g.rows, 0);
          const target = Math.max(maxRowsPerBatch, Math.ceil(total / maxBatches));
          assert.ok(batches.length <= maxBatches);
          assert.equal(batches.length === 0, total === 0);
          let next = 0;
          for (const [i, batch] of batches.entries()) {
            assert.equal(batch.index, i);
            assert.equal(batch.rowStart, next);
            assert.ok(batch.rowEnd > batch.rowStart);
            next = batch.rowEnd;
            const own = batch.rowGroups.map((g) => groups[g]!);
            assert.ok(own.every((g) => g.rows > 0));
            const first = own[0]!;
            const last = own.at(-1)!;
            const whole = batch.rowStart === first.rowStart && batch.rowEnd === last.rowStart + last.rows;
            // Whole consecutive row groups, or a part of one row group larger than the target.
            assert.ok(whole || (own.length === 1 && first.rows > target));
            // Consecutive: only row groups without rows may lie between them.
            assert.ok(
              own.every(
                (g, k) => k === 0 || groups.slice(own[k - 1]!.index + 1, g.index).every((x) => x.rows === 0),
              ),
            );
            for (const g of own) {
              assert.ok(batch.byteRanges.some((r) => r.start <= g.data.start && g.data.end <= r.end));
              const index = g.offsetIndex;
              if (index)
                assert.ok(batch.byteRanges.some((r) => r.start <= index.start && index.end <= r.end));
            }
          }
          assert.equal(next, total);
        },
      ),
    );
  });

  it('gives parts of a split row group sizes that differ by at most one row', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (rows, maxRows) => {
          const group: RowGroupLayout = { index: 0, rowStart: 0, rows, data: { start: 4, end: 100 } };

          const sizes = planRowGroupBatches([group], { maxRowsPerBatch: maxRows, maxBatches: 1_000 }).map(
            (b) => b.rowEnd - b.rowStart,
          );

          assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
          assert.ok(sizes.every((n) => n <= Math.max(maxRows, Math.ceil(rows / 1_000))));
        },
      ),
    );
  });
});
