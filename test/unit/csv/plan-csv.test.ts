import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PlanCsvRangesOptions, planCsvRanges } from '../../../lib/csv/plan-csv.ts';

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function plan(content: string | Buffer, options: Partial<PlanCsvRangesOptions> & { chunk?: number } = {}) {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const { chunk = 7, ...rest } = options;
  return planCsvRanges(chunked(bytes, chunk), {
    uri: 's3://bucket/nodes.csv',
    size: bytes.length,
    splitBytes: 1024,
    maxBatches: 100,
    maxRecordBytes: 1024,
    ...rest,
  });
}

const BOM = '\uFEFF';

describe('planCsvRanges', () => {
  it('resolves the header and plans one range from the first record to the end of the file', async () => {
    const content = 'Reference ID,firstName\nr1,Ann\nr2,Bob\n';

    const result = await plan(content);

    assert.deepEqual(result, {
      header: ['reference_id', 'first_name'],
      referenceColumn: 0,
      total: 2,
      batches: [
        { index: 0, uri: 's3://bucket/nodes.csv', start: 23, end: content.length, firstLine: 2, records: 2 },
      ],
    });
  });

  it('strips a UTF-8 BOM before the header, counting it in the offsets', async () => {
    const content = `${BOM}reference_id\nr1\n`;

    const result = await plan(content, { chunk: 1 });

    assert.deepEqual(result.header, ['reference_id']);
    assert.deepEqual(
      result.batches.map((b) => [b.start, b.end, b.firstLine]),
      [[16, 19, 2]],
    );
  });

  it('cuts CRLF files after the \\n of a record', async () => {
    const content = 'reference_id,x\r\na,1\r\nb,2\r\nc,3\r\n';

    const result = await plan(content, { splitBytes: 5, chunk: 3 });

    assert.deepEqual(
      result.batches.map((b) => [b.start, b.end, b.firstLine, b.records]),
      [
        [16, 21, 2, 1],
        [21, 26, 3, 1],
        [26, 31, 4, 1],
      ],
    );
  });

  it('skips blank lines: not records, counted in line numbers, kept in the range before a cut', async () => {
    const content = 'reference_id\n\na\n\r\n\nb\n\n';

    const result = await plan(content, { splitBytes: 1, chunk: 2 });

    assert.equal(result.total, 2);
    assert.deepEqual(
      result.batches.map((b) => [b.start, b.end, b.firstLine, b.records]),
      [
        [14, 19, 3, 1],
        [19, 22, 6, 1],
      ],
    );
  });

  it('never cuts inside a quoted field, even where a quoted newline falls on the target size', async () => {
    const content = 'reference_id,bio\nr1,"line one\nline two"\nr2,"a\r\nb"\n';
    const r1 = content.indexOf('r1');
    const r2 = content.indexOf('r2');

    for (const splitBytes of [1, 5, 12, 20, 30]) {
      const result = await plan(content, { splitBytes, chunk: 1 });
      const expected =
        splitBytes <= r2 - r1
          ? [
              [r1, r2, 2],
              [r2, content.length, 4],
            ]
          : [[r1, content.length, 2]];
      assert.deepEqual(
        result.batches.map((b) => [b.start, b.end, b.firstLine]),
        expected,
        `splitBytes ${splitBytes}`,
      );
    }
  });

  it('makes contiguous ranges of at least the target size, the last ending at the end of the file', async () => {
    const rows = Array.from({ length: 50 }, (_, k) => `r${k},${'x'.repeat(k % 7)}\n`).join('');
    const content = `reference_id,pad\n${rows}`;

    const result = await plan(content, { splitBytes: 40 });

    assert.equal(result.total, 50);
    assert.equal(
      result.batches.reduce((sum, b) => sum + b.records, 0),
      50,
    );
    for (const [k, batch] of result.batches.entries()) {
      assert.equal(batch.index, k);
      const next = result.batches[k + 1];
      if (next === undefined) assert.equal(batch.end, content.length);
      else {
        assert.equal(batch.end, next.start);
        assert.ok(batch.end - batch.start >= 40);
      }
    }
  });

  it('includes a final record without a line ending', async () => {
    const content = 'reference_id\na\nb';

    const result = await plan(content);

    assert.equal(result.total, 2);
    assert.deepEqual(
      result.batches.map((b) => [b.start, b.end, b.records]),
      [[13, 16, 2]],
    );
  });

  it('plans no batch for a header-only file, with or without a line ending', async () => {
    for (const content of ['reference_id,name', 'reference_id,name\n', 'reference_id,name\r\n\r\n']) {
      const result = await plan(content);
      assert.deepEqual([result.total, result.batches], [0, []], JSON.stringify(content));
    }
  });

  it('fails with EMPTY_FILE when there is no header: no byte, only a BOM or only blank lines', async () => {
    for (const content of ['', BOM, '\n\r\n\n', `${BOM}\n`]) {
      await assert.rejects(plan(content, { chunk: 1 }), { name: 'InvalidFileError', code: 'EMPTY_FILE' });
    }
  });

  it('fails with NO_REFERENCE_COLUMN when the header has no reference column', async () => {
    await assert.rejects(plan('id,name\n1,a\n'), { name: 'InvalidFileError', code: 'NO_REFERENCE_COLUMN' });
  });

  it('fails with INVALID_HEADER for a header with a misplaced quote or invalid UTF-8', async () => {
    await assert.rejects(plan('reference_id,na"me\n1,a\n'), {
      name: 'InvalidFileError',
      code: 'INVALID_HEADER',
    });
    const latin1 = Buffer.concat([Buffer.from('reference_id,pr'), Buffer.from([0xe9]), Buffer.from('nom\n')]);
    await assert.rejects(plan(latin1), { name: 'InvalidFileError', code: 'INVALID_HEADER' });
  });

  it('reads quoted header names', async () => {
    const result = await plan('"Reference ID","Bio, short"\nr1,x\n');

    assert.deepEqual(result.header, ['reference_id', 'bio,_short']);
  });

  it('fails with RECORD_TOO_LARGE when a record is longer than maxRecordBytes', async () => {
    const content = `reference_id,bio\nr1,"${'x'.repeat(300)}\n`;

    await assert.rejects(plan(content, { maxRecordBytes: 100 }), {
      name: 'InvalidFileError',
      code: 'RECORD_TOO_LARGE',
    });
  });

  it('caps the batches at maxBatches by making ranges of at least size / maxBatches bytes', async () => {
    const content = `reference_id\n${Array.from({ length: 200 }, (_, k) => `r${k}\n`).join('')}`;

    const result = await plan(content, { splitBytes: 1, maxBatches: 7 });

    assert.ok(result.batches.length <= 7);
    assert.ok(result.batches.length >= 6);
    assert.equal(result.total, 200);
  });

  it('keeps the cap when the given size is too small: the last range takes the rest', async () => {
    const content = `reference_id\n${Array.from({ length: 200 }, (_, k) => `r${k}\n`).join('')}`;

    const result = await plan(content, { splitBytes: 1, maxBatches: 3, size: 10 });

    assert.equal(result.batches.length, 3);
    assert.equal(result.batches.at(-1)!.end, content.length);
    assert.equal(
      result.batches.reduce((sum, b) => sum + b.records, 0),
      200,
    );
  });
});
