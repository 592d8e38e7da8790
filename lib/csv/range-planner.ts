import { isUtf8 } from 'node:buffer';
import { InvalidFileError } from '../errors.ts';
import { joinChunks } from './byte-slices.ts';
import { parseRecords } from './csv-options.ts';
import { type ResolvedHeader, resolveHeader } from './header.ts';
import { describeRecordFlags, RecordScanner } from './record-scanner.ts';

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface Range {
  readonly start: number;
  readonly firstLine: number;
  records: number;
  end: number;
}

export interface RangePlannerOptions {
  readonly targetBytes: number;
  readonly maxRanges: number;
  readonly maxRecordBytes: number;
}

interface HeaderRecord {
  readonly line: number;
  readonly start: number;
  readonly end: number;
  readonly flags: number;
}

/**
 * The planning core shared by both planners: strips a BOM, captures and resolves the header record, and
 * opens a new range at the first record that starts after the current range reached the target size.
 */
export class RangePlanner {
  readonly #targetBytes: number;
  readonly #maxRanges: number;
  readonly #maxRecordBytes: number;
  #scanner: RecordScanner | undefined;
  /** The first bytes, held until there are enough to recognise a BOM. */
  #prefix: Buffer | undefined = Buffer.alloc(0);
  #headerChunks: Buffer[] | undefined = [];
  #headerChunksStart = 0;
  #headerRecord: HeaderRecord | undefined;
  #header: ResolvedHeader | undefined;
  /** A new range opens at the start of the next record. */
  #rangeDue = true;
  #opened: number[] = [];
  readonly ranges: Range[] = [];
  total = 0;

  constructor(options: RangePlannerOptions) {
    this.#targetBytes = options.targetBytes;
    this.#maxRanges = options.maxRanges;
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  get scanner(): RecordScanner {
    if (this.#scanner === undefined) throw new Error('RangePlanner: no data scanned yet');
    return this.#scanner;
  }

  get resolvedHeader(): ResolvedHeader {
    if (this.#header === undefined) throw new Error('RangePlanner: header not resolved');
    return this.#header;
  }

  /**
   * Offset up to which every byte's range is known: all scanned bytes, except a lone `\r` starting a line
   * while a range is due (it may start the next record, or be half of a blank `\r\n` line).
   */
  get routableEnd(): number {
    if (this.#scanner === undefined) return 0;
    const scanner = this.#scanner;
    return this.#rangeDue && scanner.openIsLoneCr ? scanner.offset - 1 : scanner.offset;
  }

  /** Indexes of the ranges opened since the last call, in order. */
  takeOpened(): number[] {
    const opened = this.#opened;
    this.#opened = [];
    return opened;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#prefix !== undefined) {
      const prefix = Buffer.concat([this.#prefix, chunk]);
      if (prefix.length < UTF8_BOM.length) {
        this.#prefix = prefix;
        return;
      }
      this.#prefix = undefined;
      this.#startScanner(prefix);
      return;
    }
    this.#scan(chunk);
  }

  end(): void {
    if (this.#prefix !== undefined) {
      const prefix = this.#prefix;
      this.#prefix = undefined;
      this.#startScanner(prefix);
    }
    this.scanner.end(this.#onRecord);
    this.#resolveHeader();
    if (this.#header === undefined) throw emptyFile();
    const last = this.ranges.at(-1);
    if (last !== undefined) last.end = this.scanner.offset;
  }

  #startScanner(first: Buffer): void {
    const bom = first.length >= UTF8_BOM.length && UTF8_BOM.equals(first.subarray(0, UTF8_BOM.length));
    const startOffset = bom ? UTF8_BOM.length : 0;
    this.#scanner = new RecordScanner({ maxRecordBytes: this.#maxRecordBytes, startOffset });
    this.#headerChunksStart = startOffset;
    this.#scan(first.subarray(startOffset));
  }

  #scan(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const scanner = this.#scanner!;
    this.#headerChunks?.push(chunk);
    scanner.write(chunk, this.#onRecord);
    this.#resolveHeader();
    if (this.#rangeDue && this.#header !== undefined && scanner.hasOpenRecord) {
      this.#openRange(scanner.openStart, scanner.openLine);
    }
  }

  #onRecord = (line: number, start: number, end: number, flags: number): void => {
    if (this.#headerRecord === undefined) {
      this.#headerRecord = { line, start, end, flags };
      return;
    }
    if (this.#rangeDue) this.#openRange(start, line);
    const range = this.ranges.at(-1)!;
    range.records++;
    this.total++;
    if (end - range.start >= this.#targetBytes && this.ranges.length < this.#maxRanges) this.#rangeDue = true;
  };

  #openRange(start: number, firstLine: number): void {
    const previous = this.ranges.at(-1);
    if (previous !== undefined) previous.end = start;
    this.#opened.push(this.ranges.length);
    this.ranges.push({ start, firstLine, records: 0, end: start });
    this.#rangeDue = false;
  }

  #resolveHeader(): void {
    const record = this.#headerRecord;
    if (record === undefined || this.#header !== undefined) return;
    const bytes = joinChunks(this.#headerChunks!, this.#headerChunksStart, record.start, record.end);
    this.#headerChunks = undefined;
    if (record.flags !== 0) {
      throw new InvalidFileError('INVALID_HEADER', `the header has a ${describeRecordFlags(record.flags)}`, {
        line: record.line,
      });
    }
    if (!isUtf8(bytes)) {
      throw new InvalidFileError('INVALID_HEADER', 'the header is not valid UTF-8', { line: record.line });
    }
    const [names] = parseRecords(bytes);
    this.#header = resolveHeader(names ?? []);
  }
}

export function emptyFile(): InvalidFileError {
  return new InvalidFileError('EMPTY_FILE', 'the file has no header row (it is empty)');
}

export function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
}
