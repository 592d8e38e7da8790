import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordFlag, RecordScanner, type RecordScannerOptions } from '../../../lib/csv/record-scanner.ts';

interface Scanned {
  line: number;
  start: number;
  end: number;
  flags: number;
}

/** Scans `input` cut at the given offsets; returns the records and the scanner's final line count. */
function scan(
  input: string | Buffer,
  cuts: readonly number[] = [],
  options: Partial<RecordScannerOptions> = {},
): { records: Scanned[]; lines: number } {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const scanner = new RecordScanner({ maxRecordBytes: 1024, ...options });
  const records: Scanned[] = [];
  const sink = (line: number, start: number, end: number, flags: number) => {
    records.push({ line, start, end, flags });
  };
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    scanner.write(bytes.subarray(from, cut), sink);
    from = cut;
  }
  scanner.end(sink);
  return { records, lines: scanner.line };
}

/** The same input scanned whole and cut at every single offset gives the same records. */
function assertSameAtEveryCut(input: string): Scanned[] {
  const whole = scan(input).records;
  const length = Buffer.byteLength(input);
  for (let cut = 1; cut < length; cut++) {
    assert.deepEqual(scan(input, [cut]).records, whole, `cut at ${cut}`);
  }
  const bytewise = Array.from({ length: length - 1 }, (_, k) => k + 1);
  assert.deepEqual(scan(input, bytewise).records, whole, 'one byte at a time');
  return whole;
}

describe('RecordScanner', () => {
  it('finds LF records with their lines and byte offsets', () => {
    const { records, lines } = scan('a,b\nc,d\n');

    assert.deepEqual(records, [
      { line: 1, start: 0, end: 4, flags: 0 },
      { line: 2, start: 4, end: 8, flags: 0 },
    ]);
    assert.equal(lines, 3);
  });

  it('ends CRLF records after the \\n', () => {
    const records = assertSameAtEveryCut('a,b\r\nc,d\r\n');

    assert.deepEqual(
      records.map((r) => [r.start, r.end]),
      [
        [0, 5],
        [5, 10],
      ],
    );
  });

  it('skips blank LF and CRLF lines but counts them as lines', () => {
    const records = assertSameAtEveryCut('\na\n\r\n\nb\r\n\r\n');

    assert.deepEqual(
      records.map((r) => [r.line, r.start, r.end]),
      [
        [2, 1, 3],
        [5, 6, 9],
      ],
    );
  });

  it('keeps a quoted newline inside its record, wherever the chunks are cut', () => {
    const records = assertSameAtEveryCut('1,"x\ny",z\n2,"p\r\nq"\n3,w\n');

    assert.deepEqual(
      records.map((r) => [r.line, r.start, r.end]),
      [
        [1, 0, 10],
        [3, 10, 19],
        [5, 19, 23],
      ],
    );
  });

  it('reads "" inside quotes as an escaped quote, also when a chunk ends between the two quotes', () => {
    const input = '1,"say ""hi"", ok\n",2\n3,""\n';
    const records = assertSameAtEveryCut(input);

    assert.equal(records.length, 2);
    assert.equal(records[0]!.flags, 0);
    assert.deepEqual([records[1]!.line, records[1]!.flags], [3, 0]);
    // Cut right after the first quote of each `""` pair.
    const quotePairs = [...input.matchAll(/""/g)].map((m) => m.index + 1);
    assert.deepEqual(scan(input, quotePairs).records, records);
  });

  it('handles a \\r at the end of a chunk, in a CRLF ending and at the start of a blank line', () => {
    const input = 'a\r\n\r\nb\r\n';

    for (const cut of [2, 4]) {
      assert.equal(Buffer.from(input)[cut], 0x0a);
      assert.deepEqual(
        scan(input, [cut]).records.map((r) => [r.line, r.start, r.end]),
        [
          [1, 0, 3],
          [3, 5, 8],
        ],
      );
    }
  });

  it('treats a bare \\r as data, not as a line ending', () => {
    const { records, lines } = scan('a\rb\rc\n');

    assert.deepEqual(records, [{ line: 1, start: 0, end: 6, flags: 0 }]);
    assert.equal(lines, 2);
  });

  it('gives a final record without a line ending, including one made of a lone \\r', () => {
    assert.deepEqual(scan('a\nb').records.at(-1), { line: 2, start: 2, end: 3, flags: 0 });
    assert.deepEqual(scan('a\n\r').records.at(-1), { line: 2, start: 2, end: 3, flags: 0 });
    assert.equal(scan('a\n\n').records.length, 1);
  });

  it('flags misplaced quotes without moving the record boundaries', () => {
    const { records } = scan('a"b,c\n"x"y,z\n"ok","fine"\n"open,\nstill\n');

    assert.deepEqual(
      records.map((r) => [r.line, r.flags]),
      [
        [1, RecordFlag.STRAY_QUOTE],
        [2, RecordFlag.BAD_CLOSING_QUOTE],
        [3, 0],
        [4, RecordFlag.UNCLOSED_QUOTE],
      ],
    );
  });

  it('accepts a closing quote followed by CRLF, even split across chunks, but not by a bare \\r', () => {
    const good = '"a"\r\n"b"\n';
    assert.deepEqual(
      assertSameAtEveryCut(good).map((r) => r.flags),
      [0, 0],
    );
    assert.deepEqual(
      assertSameAtEveryCut('"a"\rx\n"b"\r').map((r) => r.flags),
      [RecordFlag.BAD_CLOSING_QUOTE, RecordFlag.BAD_CLOSING_QUOTE],
    );
  });

  it('starts counting at firstLine and startOffset', () => {
    const { records } = scan('a\n\nb\n', [], { firstLine: 10, startOffset: 100 });

    assert.deepEqual(
      records.map((r) => [r.line, r.start, r.end]),
      [
        [10, 100, 102],
        [12, 103, 105],
      ],
    );
  });

  it('fails with RECORD_TOO_LARGE, naming the line, when a record is longer than the limit', () => {
    assert.throws(() => scan('ok\n0123456789\n', [], { maxRecordBytes: 5 }), {
      name: 'InvalidFileError',
      code: 'RECORD_TOO_LARGE',
      details: { line: 2, bytes: 10, maxRecordBytes: 5 },
    });
  });

  it('stops a runaway quote as soon as the open record exceeds the limit, before the data ends', () => {
    const scanner = new RecordScanner({ maxRecordBytes: 100 });
    const sink = () => {};
    scanner.write(Buffer.from('a\n"never closed,\n'), sink);

    assert.throws(
      () => scanner.write(Buffer.alloc(200, 'x\n'), sink),
      (error: { name?: unknown; code?: unknown; details?: { line?: unknown } }) =>
        error.name === 'InvalidFileError' && error.code === 'RECORD_TOO_LARGE' && error.details?.line === 2,
    );
  });

  it('tells whether a record is open, and whether the open line is a lone \\r', () => {
    const scanner = new RecordScanner({ maxRecordBytes: 100 });
    const sink = () => {};

    scanner.write(Buffer.from('a\n\r'), sink);
    assert.deepEqual([scanner.hasOpenRecord, scanner.openIsLoneCr, scanner.openStart], [false, true, 2]);
    scanner.write(Buffer.from('x'), sink);
    assert.deepEqual([scanner.hasOpenRecord, scanner.openIsLoneCr, scanner.openStart], [true, false, 2]);
  });
});
