/**
 * The reversible spreadsheet escape of cells (CSV injection): a cell that a spreadsheet would run as a formula
 * (first character `=`, `+`, `-`, `@`, tab or carriage return) is written with a leading apostrophe, the
 * spreadsheets' own "this is text" mark. So that the escape can be undone exactly, a cell that already starts
 * with an apostrophe gets one more. Reading undoes it: an apostrophe followed by one of those characters or by
 * another apostrophe is dropped; any other cell is taken as it is. `unescapeCell(escapeCell(v)) === v` for
 * every string.
 */

/** First characters that make a spreadsheet evaluate a cell, plus the escape mark itself. */
const ESCAPED_FIRST = new Set(['=', '+', '-', '@', '\t', '\r', "'"]);

/** Prefixes an apostrophe when a spreadsheet would run the value (or it starts with an apostrophe). */
export function escapeCell(value: string): string {
  return value.length > 0 && ESCAPED_FIRST.has(value[0]!) ? `'${value}` : value;
}

/** Undoes {@link escapeCell}: drops a leading apostrophe that is followed by an escaped character. */
export function unescapeCell(value: string): string {
  return value.length > 1 && value[0] === "'" && ESCAPED_FIRST.has(value[1]!) ? value.slice(1) : value;
}

/** The escaped first characters' code points: `ascii()` compares them as integers, no text to cut. */
const ESCAPED_FIRST_CODES = [...ESCAPED_FIRST].map((c) => c.codePointAt(0)).join(', ');

/**
 * {@link unescapeCell} as an SQL expression over a text expression (NULL stays NULL). `ascii()` reads the first
 * characters' code points without cutting text: about half the cost of comparing `left(…, 1)`.
 */
export function unescapeCellSql(expression: string): string {
  return `(CASE WHEN ascii(${expression}) = 39 AND ascii(substr(${expression}, 2, 1)) IN (${ESCAPED_FIRST_CODES}) THEN substr(${expression}, 2) ELSE ${expression} END)`;
}

/**
 * {@link escapeCell} as an SQL expression over a text expression, with an empty string made NULL: what
 * `COPY … (FORMAT csv)` writes as an unquoted empty cell, as the export's files have always had it (COPY
 * would quote an empty string to tell it from NULL). `ascii()` gives the first character's code point (0 for
 * an empty string) in a UTF-8 database: half the cost of comparing `left(…, 1)` with text literals over 1M
 * rows (docs/decisions.md).
 */
export function escapeCellSql(expression: string): string {
  return `(CASE WHEN ascii(${expression}) IN (${ESCAPED_FIRST_CODES}) THEN '''' || ${expression} ELSE NULLIF(${expression}, '') END)`;
}
