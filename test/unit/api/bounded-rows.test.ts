import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { boundedLines } from '../../../lib/api/bounded-lines.ts';
import { csvRows, ndjsonRows, type SourceRow } from '../../../lib/api/row-sources.ts';
import { InvalidFileError } from '../../../lib/errors.ts';

const LIMIT = 1024;
const CHUNK = 256;

/**
 * `head`, then bytes of `filler` without end, counting what the reader pulled: a reader that held the line
 * whole would never return.
 */
function endless(head: string, filler: string): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const chunk = Buffer.from(filler.repeat(CHUNK / filler.length));
  async function* bytes(): AsyncGenerator<Buffer> {
    pulled += Buffer.byteLength(head);
    yield Buffer.from(head);
    for (;;) {
      pulled += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(bytes(), { objectMode: false }), pulled: () => pulled };
}

async function collect(rows: AsyncIterable<SourceRow>): Promise<SourceRow[]> {
  const seen: SourceRow[] = [];
  for await (const row of rows) seen.push(row);
  return seen;
}

const tooLarge = (line: number) => (error: unknown) =>
  error instanceof InvalidFileError && error.code === 'RECORD_TOO_LARGE' && error.details.line === line;

describe('bounded line reading (issue 21: a 300 MB line was held whole)', () => {
  it('refuses an endless NDJSON line once it passes the limit, reading little past it', async () => {
    const { stream, pulled } = endless('{"username":"a"}\n{"username":"', 'x');
    const seen: SourceRow[] = [];
    await assert.rejects(async () => {
      for await (const row of ndjsonRows(stream, LIMIT)) seen.push(row);
    }, tooLarge(2));
    assert.deepEqual(seen, [{ line: 1, values: { username: 'a' } }]);
    assert.ok(pulled() <= LIMIT + 3 * CHUNK, `read ${pulled()} bytes`);
  });

  it('refuses an endless CSV record once it passes the limit, with the same code', async () => {
    const { stream, pulled } = endless('username,city\na,b\n"', 'y');
    await assert.rejects(collect(csvRows(stream, LIMIT)), tooLarge(3));
    assert.ok(pulled() <= LIMIT + 3 * CHUNK, `read ${pulled()} bytes`);
  });

  it('takes lines of exactly the limit, with or without \\r, split across chunks', async () => {
    const full = 'a'.repeat(LIMIT);
    const text = `${full}\r\n${full}\n\n${full}`;
    const chunks = [];
    for (let at = 0; at < text.length; at += 100) chunks.push(Buffer.from(text.slice(at, at + 100)));
    const lines = [];
    for await (const line of boundedLines(Readable.from(chunks), LIMIT)) lines.push(line);
    assert.deepEqual(lines, [
      { line: 1, text: full },
      { line: 2, text: full },
      { line: 3, text: '' },
      { line: 4, text: full },
    ]);
    await assert.rejects(
      collect(ndjsonRows(Readable.from([Buffer.from(`{}\n${full}a\n`)]), LIMIT)),
      tooLarge(2),
    );
  });

  it('numbers lines as before: a final line break adds no line, a BOM is dropped', async () => {
    const rows = await collect(
      ndjsonRows(Readable.from([Buffer.from('\ufeff{"a":1}\n\n[1]\r\n{"b":"é"}\n')]), LIMIT),
    );
    assert.deepEqual(rows, [
      { line: 1, values: { a: 1 } },
      { line: 3, error: 'the line is not a JSON object' },
      { line: 4, values: { b: 'é' } },
    ]);
  });
});
