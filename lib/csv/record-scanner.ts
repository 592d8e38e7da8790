import { InvalidFileError } from '../errors.ts';

/**
 * Bits of the `flags` argument of a {@link RecordSink}: what is wrong with the quoting of a record.
 * The boundaries are the same either way; a record with a flag is a failed row for the parser.
 */
export const RecordFlag = {
  /** A `"` in the middle of an unquoted field (RFC 4180 asks for the field to be quoted). */
  STRAY_QUOTE: 1,
  /** A closing `"` followed by something else than `,`, a line ending or the end of the data. */
  BAD_CLOSING_QUOTE: 2,
  /** The data ends inside a quoted field. */
  UNCLOSED_QUOTE: 4,
} as const;

/** Says in words what the flags of a record mean: `quote inside an unquoted field`, … */
export function describeRecordFlags(flags: number): string {
  const problems: string[] = [];
  if (flags & RecordFlag.STRAY_QUOTE) problems.push('quote inside an unquoted field');
  if (flags & RecordFlag.BAD_CLOSING_QUOTE) problems.push('closing quote not followed by a delimiter');
  if (flags & RecordFlag.UNCLOSED_QUOTE) problems.push('quote never closed');
  return problems.join(', ');
}

/**
 * Receives each record as soon as its end is seen. `line` is the physical line (1-based) where the record
 * starts; `start` and `end` are absolute byte offsets, `end` exclusive and just past the record's line
 * ending (or the end of the data for a final record without one); `fields` counts the record's fields
 * (delimiters outside quotes, plus one).
 */
export type RecordSink = (line: number, start: number, end: number, flags: number, fields: number) => void;

/** Options of a {@link RecordScanner}. */
export interface RecordScannerOptions {
  /** Longest record accepted, in bytes from its first byte to its line ending (exclusive). */
  readonly maxRecordBytes: number;
  /** Physical line number of the first byte scanned (default 1). */
  readonly firstLine?: number;
  /** Absolute offset of the first byte scanned (default 0), used in the offsets given to the sink. */
  readonly startOffset?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

const UNQUOTED = 0;
const QUOTED = 1;
/** Inside quotes, the last byte seen was a `"`: an escaped quote if the next byte is `"`, else the close. */
const QUOTE_PENDING = 2;

/** After a closing quote, what the next byte must be for the quote to be well formed. */
const CHECK_NONE = 0;
const CHECK_AFTER_QUOTE = 1;
const CHECK_AFTER_QUOTE_CR = 2;

/**
 * A pure, incremental, quote-aware finder of CSV record boundaries over raw bytes.
 *
 * Semantics (identical to csv-parse with the options of `csv-options.ts`: `relax_quotes`,
 * `record_delimiter: ['\r\n', '\n']`, `skip_empty_lines`):
 * - a `"` opens a quoted field only at the start of a field; elsewhere it is data (flagged STRAY_QUOTE);
 * - inside quotes `""` is an escaped quote and a lone `"` closes the field (flagged BAD_CLOSING_QUOTE when
 *   not followed by `,`, `\n`, `\r\n` or the end of the data);
 * - outside quotes, `\n` (with an optional preceding `\r`) ends a record; a bare `\r` is data, so files
 *   with classic-Mac `\r` line endings are not supported (they read as one long record);
 * - a line with no byte before its line ending is blank: it is counted as a line but is not a record.
 *
 * Physical lines are counted on every `\n`, including those inside quoted fields. State carries across
 * chunks, so a chunk may end anywhere (inside quotes, between `\r` and `\n`, after a `"`).
 *
 * @throws InvalidFileError `RECORD_TOO_LARGE` (with the record's line) as soon as a record exceeds
 *   `maxRecordBytes`; this bounds what a caller must buffer against a runaway quote.
 */
export class RecordScanner {
  readonly #maxRecordBytes: number;
  #state = UNQUOTED;
  #check = CHECK_NONE;
  #offset: number;
  #line: number;
  /** Start of the current line (the record in progress, if any) and its line number. */
  #recordStart: number;
  #recordLine: number;
  #flags = 0;
  /** Delimiters outside quotes seen so far in the record in progress. */
  #commas = 0;
  /** Last byte of the previous chunk, -1 before any. */
  #lastByte = -1;
  #records = 0;
  #ended = false;

  constructor(options: RecordScannerOptions) {
    const { maxRecordBytes, firstLine = 1, startOffset = 0 } = options;
    if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1) {
      throw new RangeError(`maxRecordBytes must be a positive integer, got ${maxRecordBytes}`);
    }
    if (!Number.isSafeInteger(firstLine) || firstLine < 1) {
      throw new RangeError(`firstLine must be a positive integer, got ${firstLine}`);
    }
    if (!Number.isSafeInteger(startOffset) || startOffset < 0) {
      throw new RangeError(`startOffset must be a non-negative integer, got ${startOffset}`);
    }
    this.#maxRecordBytes = maxRecordBytes;
    this.#offset = startOffset;
    this.#recordStart = startOffset;
    this.#line = firstLine;
    this.#recordLine = firstLine;
  }

  /** Absolute offset just past the last byte scanned. */
  get offset(): number {
    return this.#offset;
  }

  /** Physical line number at {@link offset}. */
  get line(): number {
    return this.#line;
  }

  /** Records completed so far (blank lines excluded). */
  get records(): number {
    return this.#records;
  }

  /** Offset where the current line starts: the start of the record in progress, if one has started. */
  get openStart(): number {
    return this.#recordStart;
  }

  /** Physical line number of {@link openStart}. */
  get openLine(): number {
    return this.#recordLine;
  }

  /**
   * True when a record has started and not ended yet. A line holding only a `\r` so far is not counted:
   * it may still turn out to be a blank `\r\n` line.
   */
  get hasOpenRecord(): boolean {
    const length = this.#offset - this.#recordStart;
    return length > 1 || (length === 1 && this.#lastByte !== CR);
  }

  /** True when the current line holds exactly one byte, a `\r` whose meaning depends on the next byte. */
  get openIsLoneCr(): boolean {
    return this.#offset - this.#recordStart === 1 && this.#lastByte === CR && this.#state === UNQUOTED;
  }

  /** Scans the next chunk, calling `onRecord` for every record that ends in it. */
  write(chunk: Uint8Array, onRecord: RecordSink): void {
    if (this.#ended) throw new Error('RecordScanner.write after end');
    const n = chunk.length;
    if (n === 0) return;
    const base = this.#offset;
    const max = this.#maxRecordBytes;
    let state = this.#state;
    let check = this.#check;
    let line = this.#line;
    let recordStart = this.#recordStart;
    let recordLine = this.#recordLine;
    let flags = this.#flags;
    let commas = this.#commas;
    let records = this.#records;
    let i = 0;

    if (state === QUOTE_PENDING) {
      if (chunk[0] === QUOTE) {
        state = QUOTED;
        i = 1;
      } else {
        state = UNQUOTED;
        check = CHECK_AFTER_QUOTE;
      }
    }

    while (i < n) {
      if (state === UNQUOTED) {
        if (check !== CHECK_NONE) {
          const c = chunk[i]!;
          if (check === CHECK_AFTER_QUOTE && c === CR) {
            check = CHECK_AFTER_QUOTE_CR;
            i++;
            continue;
          }
          if (check === CHECK_AFTER_QUOTE ? c !== COMMA && c !== LF : c !== LF) {
            flags |= RecordFlag.BAD_CLOSING_QUOTE;
          }
          check = CHECK_NONE;
        }
        for (; i < n; i++) {
          const b = chunk[i]!;
          if (b === LF) {
            const at = base + i;
            const length = at - recordStart;
            if (
              length === 0 ||
              (length === 1 && (recordStart >= base ? chunk[recordStart - base] : this.#lastByte) === CR)
            ) {
              // blank line: counted, not a record
            } else {
              if (length > max) this.#tooLarge(recordLine, length);
              records++;
              onRecord(recordLine, recordStart, at + 1, flags, commas + 1);
              flags = 0;
            }
            commas = 0;
            line++;
            recordStart = at + 1;
            recordLine = line;
          } else if (b === QUOTE) {
            const previous = i > 0 ? chunk[i - 1] : this.#lastByte;
            if (base + i === recordStart || previous === COMMA) {
              state = QUOTED;
              i++;
              break;
            }
            flags |= RecordFlag.STRAY_QUOTE;
          } else if (b === COMMA) {
            commas++;
          }
        }
      } else {
        // QUOTED: only `"` (escape or close) and `\n` (line count) matter.
        for (; i < n; i++) {
          const b = chunk[i]!;
          if (b === QUOTE) {
            if (i + 1 === n) {
              state = QUOTE_PENDING;
              i++;
              break;
            }
            if (chunk[i + 1] === QUOTE) {
              i++;
              continue;
            }
            state = UNQUOTED;
            check = CHECK_AFTER_QUOTE;
            i++;
            break;
          }
          if (b === LF) line++;
        }
      }
    }

    const end = base + n;
    if (end - recordStart > max) this.#tooLarge(recordLine, end - recordStart);
    this.#state = state;
    this.#check = check;
    this.#line = line;
    this.#recordStart = recordStart;
    this.#recordLine = recordLine;
    this.#flags = flags;
    this.#commas = commas;
    this.#records = records;
    this.#offset = end;
    this.#lastByte = chunk[n - 1]!;
  }

  /** Ends the data: a final record without a line ending is given to `onRecord`. */
  end(onRecord: RecordSink): void {
    if (this.#ended) return;
    this.#ended = true;
    let flags = this.#flags;
    if (this.#state === QUOTED) flags |= RecordFlag.UNCLOSED_QUOTE;
    // A `"` pending at the end closes its field (end of data is a valid follower); `"\r` at the end is not.
    if (this.#check === CHECK_AFTER_QUOTE_CR) flags |= RecordFlag.BAD_CLOSING_QUOTE;
    this.#state = UNQUOTED;
    this.#check = CHECK_NONE;
    const length = this.#offset - this.#recordStart;
    if (length > 0) {
      this.#records++;
      onRecord(this.#recordLine, this.#recordStart, this.#offset, flags, this.#commas + 1);
      this.#recordStart = this.#offset;
    }
    this.#flags = 0;
    this.#commas = 0;
  }

  #tooLarge(line: number, bytes: number): never {
    throw new InvalidFileError(
      'RECORD_TOO_LARGE',
      `the record starting on line ${line} is longer than ${this.#maxRecordBytes} bytes ` +
        '(an unclosed quote?)',
      { line, bytes, maxRecordBytes: this.#maxRecordBytes },
    );
  }
}
