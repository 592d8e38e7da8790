import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRowRejection, type ParsedRow, parseCsvRange } from '../../../lib/csv/parse-range.ts';
import type { RowRejection } from '../../../lib/model/types.ts';

const HEADER = ['reference_id', 'name', 'city'];

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function parse(
  content: string | Buffer,
  options: { chunk?: number; firstLine?: number; header?: string[]; maxRecordBytes?: number } = {},
): Promise<(ParsedRow | RowRejection)[]> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const { chunk = 5, firstLine = 2, header = HEADER, maxRecordBytes = 4096 } = options;
  const out: (ParsedRow | RowRejection)[] = [];
  for await (const item of parseCsvRange(chunked(bytes, chunk), {
    header,
    referenceColumn: header.indexOf('reference_id'),
    firstLine,
    maxRecordBytes,
  })) {
    out.push(item);
  }
  return out;
}

const codes = (items: (ParsedRow | RowRejection)[]) =>
  items.map((item) => [item.line, isRowRejection(item) ? item.code : 'OK']);

describe('parseCsvRange', () => {
  it('parses rows into reference and metadata under the normalised header names', async () => {
    const rows = await parse('r1,Ann,Pune\nr2,Bob,Goa\n');

    assert.deepEqual(rows, [
      { line: 2, reference: 'r1', metadata: { name: 'Ann', city: 'Pune' } },
      { line: 3, reference: 'r2', metadata: { name: 'Bob', city: 'Goa' } },
    ]);
  });

  it('leaves empty cells, quoted or not, out of the metadata', async () => {
    const rows = await parse('r1,,Pune\nr2,"",\n');

    assert.deepEqual(
      rows.map((r) => (isRowRejection(r) ? r : r.metadata)),
      [{ city: 'Pune' }, {}],
    );
  });

  it('unescapes quoted fields with commas, quotes and newlines', async () => {
    const rows = await parse('r1,"Ann ""A"", Jr","Line 1\r\nLine 2"\n');

    assert.deepEqual(rows, [
      { line: 2, reference: 'r1', metadata: { name: 'Ann "A", Jr', city: 'Line 1\r\nLine 2' } },
    ]);
  });

  it('reports the physical line where each record starts, across multi-line records and blank lines', async () => {
    const content = 'r1,"a\nb\nc",x\n\nr2,b,y\r\n\r\nr3,"\r\n",z\nr4,d,w';

    const rows = await parse(content, { firstLine: 10, chunk: 3 });

    assert.deepEqual(
      rows.map((r) => [r.line, r.reference]),
      [
        [10, 'r1'],
        [14, 'r2'],
        [16, 'r3'],
        [18, 'r4'],
      ],
    );
  });

  it('rejects rows with the wrong field count, saying what was expected, and loads their neighbours', async () => {
    const rows = await parse('r1,a,b\nr2,a\nr3,a,b,c\nr4,a,b\n');

    assert.deepEqual(codes(rows), [
      [2, 'OK'],
      [3, 'WRONG_FIELD_COUNT'],
      [4, 'WRONG_FIELD_COUNT'],
      [5, 'OK'],
    ]);
    const rejection = rows[1] as RowRejection;
    assert.equal(rejection.reference, 'r2');
    assert.match(rejection.reason, /3.*2/);
  });

  it('rejects an empty or whitespace-only reference as MISSING_REFERENCE but keeps other references as written', async () => {
    const rows = await parse(',a,b\n"  ",a,b\n\t,a,b\n r5 ,a,b\n');

    assert.deepEqual(codes(rows), [
      [2, 'MISSING_REFERENCE'],
      [3, 'MISSING_REFERENCE'],
      [4, 'MISSING_REFERENCE'],
      [5, 'OK'],
    ]);
    assert.equal((rows[3] as ParsedRow).reference, ' r5 ');
    assert.equal((rows[0] as RowRejection).reference, null);
  });

  it('rejects a reference over 255 characters, counting characters and not bytes', async () => {
    const longest = `${'é'.repeat(254)}😀`;
    const rows = await parse(`${'x'.repeat(256)},a,b\n${longest},a,b\n${'y'.repeat(255)},a,b\n`);

    assert.deepEqual(codes(rows), [
      [2, 'REFERENCE_TOO_LONG'],
      [3, 'OK'],
      [4, 'OK'],
    ]);
    assert.equal((rows[1] as ParsedRow).reference, longest);
  });

  it('rejects exactly the rows holding invalid UTF-8, wherever the chunks are cut', async () => {
    const content = Buffer.concat([
      Buffer.from('r1,Zoë,a\nr2,'),
      Buffer.from([0x5a, 0x6f, 0xeb]), // "Zo" + Latin-1 ë
      Buffer.from(',b\nr3,😀,c\nr4,'),
      Buffer.from([0xf0, 0x9f, 0x98]), // a truncated 4-byte sequence
      Buffer.from('\nr5,ok,d\n'),
    ]);

    for (const chunk of [1, 2, 3, 4, 1000]) {
      const rows = await parse(content, { chunk });
      assert.deepEqual(
        codes(rows),
        [
          [2, 'OK'],
          [3, 'INVALID_UTF8'],
          [4, 'OK'],
          [5, 'INVALID_UTF8'],
          [6, 'OK'],
        ],
        `chunk ${chunk}`,
      );
      assert.deepEqual((rows[2] as ParsedRow).metadata, { name: '😀', city: 'c' });
    }
  });

  it('rejects rows with misplaced quotes as MALFORMED_QUOTE and goes on with the next line', async () => {
    const rows = await parse('r1,a"b,c\nr2,"x"y,z\nr3,ok,fine\nr4,"never closed\nr5,a,b\n');

    assert.deepEqual(codes(rows), [
      [2, 'MALFORMED_QUOTE'],
      [3, 'MALFORMED_QUOTE'],
      [4, 'OK'],
      [5, 'MALFORMED_QUOTE'],
    ]);
  });

  it('skips blank lines without failing them', async () => {
    const rows = await parse('\n\r\nr1,a,b\n\n');

    assert.deepEqual(codes(rows), [[4, 'OK']]);
  });

  it('fails with RECORD_TOO_LARGE when a record is longer than maxRecordBytes', async () => {
    await assert.rejects(parse(`r1,"${'x'.repeat(500)}",b\n`, { maxRecordBytes: 100 }), {
      name: 'InvalidFileError',
      code: 'RECORD_TOO_LARGE',
    });
  });

  it('gives the same rows from one large chunk as from small ones', async () => {
    const rows = Array.from(
      { length: 10_000 },
      (_, k) => `r${k},"name ${k}, ${'x'.repeat(k % 90)}",c${k % 7}\n`,
    );
    const content = Buffer.from(rows.join(''));
    assert.ok(content.length > 512 * 1024);

    const whole = await parse(content, { chunk: content.length });
    const small = await parse(content, { chunk: 4093 });

    assert.equal(whole.length, 10_000);
    assert.deepEqual(whole, small);
  });

  it('yields nothing for an empty range', async () => {
    assert.deepEqual(await parse(''), []);
  });

  it('refuses a reference column outside the header', async () => {
    const rows = parseCsvRange(chunked(Buffer.from('a\n'), 1), {
      header: ['reference_id'],
      referenceColumn: 1,
      firstLine: 2,
      maxRecordBytes: 10,
    });
    await assert.rejects(rows.next(), RangeError);
  });
});
