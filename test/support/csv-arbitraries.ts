import fc from 'fast-check';

/** Generators of CSV files for property tests: well-formed and malformed records, LF/CRLF, BOM, UTF-8. */

export const MAX_RECORD_BYTES = 1 << 16;
export const RAW_HEADER = 'Reference ID,first name,bio';

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

export const csvFile = fc
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

export const chunkSizes = fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 6 });

export async function* chunked(bytes: Buffer, sizes: readonly number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}
