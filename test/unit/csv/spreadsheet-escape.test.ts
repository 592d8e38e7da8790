import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeCell, unescapeCell } from '../../../lib/csv/spreadsheet-escape.ts';

const FORMULA_START = /^[=+\-@\t\r]/;
/** Strings rich in what matters here: formula characters and apostrophes, at the start and repeated. */
const cell = fc
  .array(fc.constantFrom("'", '=', '+', '-', '@', '\t', '\r', 'a', ' ', '1', 'é', '"', ','), { maxLength: 6 })
  .map((units) => units.join(''));

describe('spreadsheet escape of cells', () => {
  it('gives back every value unchanged after escaping', () => {
    fc.assert(fc.property(fc.oneof(cell, fc.string()), (value) => unescapeCell(escapeCell(value)) === value));
  });

  it('never writes a cell a spreadsheet would run as a formula', () => {
    fc.assert(fc.property(fc.oneof(cell, fc.string()), (value) => !FORMULA_START.test(escapeCell(value))));
  });

  it('leaves ordinary values as they are; escapes formula starts and leading apostrophes', () => {
    for (const value of ['alice', "o'neil", '', 'a=b', '1990-01-02']) {
      assert.equal(escapeCell(value), value);
      assert.equal(unescapeCell(value), value);
    }
    assert.equal(escapeCell('=SUM(A1:A2)'), "'=SUM(A1:A2)");
    assert.equal(escapeCell('-5'), "'-5");
    assert.equal(escapeCell("'hello"), "''hello");
    assert.equal(unescapeCell("''hello"), "'hello");
    // An apostrophe before an ordinary character is data, in files from anywhere.
    assert.equal(unescapeCell("'hello"), "'hello");
  });
});
