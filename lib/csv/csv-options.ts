import type { Options } from 'csv-parse';
import { parse } from 'csv-parse/sync';

/**
 * The csv-parse configuration whose record boundaries {@link RecordScanner} reproduces byte for byte.
 * Change one, change the other (the property test in test/unit/csv/ checks they agree).
 *
 * - `record_delimiter` is explicit (`\r\n` or `\n`, per line) instead of auto-discovered from the first
 *   line, so LF and CRLF may be mixed; a bare `\r` is data.
 * - `relax_quotes`: a `"` inside an unquoted field is data, and a lone `"` inside quotes closes the field.
 *   Without it csv-parse keeps quoting after a bad closing quote, so one broken line could swallow the
 *   rest of the file into a single record. The scanner flags both cases so the row still fails.
 * - `relax_column_count`: a record with the wrong number of fields is returned, not thrown, so it becomes
 *   a failed row.
 * - `skip_empty_lines`: a line with no byte at all is skipped (a line of spaces or `""` is a record).
 * - `bom: false`: a byte-order mark is stripped by the planner at the start of the file only.
 * - `max_record_size: 0`: the scanner bounds records in bytes before csv-parse sees them.
 *
 * What csv-parse does with malformed quoting under these options (the scanner flags every case, and
 * `parseCsvRange` turns the record into a `MALFORMED_QUOTE` failed row):
 * - `a"b` (quote inside an unquoted field): kept as data, `a"b`;
 * - `"ab"cd` (closing quote followed by data): the quote closes, the value becomes `"abcd`;
 *   csv-parse's strict mode (`relax_quotes: false`) would report `CSV_INVALID_CLOSING_QUOTE` but keep
 *   quoting to the next well-placed quote, possibly many lines later, so it cannot be used per record;
 * - a quote still open at the end of the input: `CSV_QUOTE_NOT_CLOSED`, thrown for the whole input (and
 *   with `skip_records_with_error` the record is dropped silently); such a record is never handed to it;
 * - a NUL byte after a closing quote counts as a valid follower for csv-parse (its `!nextChr` test) but
 *   not for the scanner: the record fails, the boundaries are unaffected.
 * `skip_records_with_error` is not used: after `CSV_MAX_RECORD_SIZE` it returns from the parse loop
 * without keeping the rest of the buffer (csv-parse 7.0.3).
 */
export function csvParseOptions(): Options {
  return {
    bom: false,
    cast: false,
    columns: false,
    delimiter: ',',
    encoding: 'utf8',
    escape: '"',
    max_record_size: 0,
    quote: '"',
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  };
}

/**
 * Splits a block made of whole records (as delimited by {@link RecordScanner}) into fields.
 * With {@link csvParseOptions} csv-parse raises no error on such a block; one would be a bug.
 */
export function parseRecords(block: Uint8Array): string[][] {
  return parse(block, csvParseOptions());
}
