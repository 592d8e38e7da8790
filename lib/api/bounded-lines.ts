import { InvalidFileError } from '../errors.ts';

const LF = 0x0a;
const CR = 0x0d;

/** The error of a line over the record limit: the code the CSV record scanner gives a record over it. */
export function lineTooLarge(line: number, maxRecordBytes: number): InvalidFileError {
  return new InvalidFileError('RECORD_TOO_LARGE', `line ${line} is longer than ${maxRecordBytes} bytes`, {
    line,
    maxRecordBytes,
  });
}

/**
 * The lines of a UTF-8 byte stream, split on `\n` (a `\r` before it is dropped), numbered from 1; an empty
 * last line after a final `\n` is not one, as with `node:readline`. A line is held only until it passes
 * `maxRecordBytes`: then the reading stops with {@link lineTooLarge}, so one endless line costs at most the
 * limit and a chunk in memory, never the line whole.
 *
 * @throws InvalidFileError `RECORD_TOO_LARGE` (with the line) as soon as a line passes `maxRecordBytes`.
 */
export async function* boundedLines(
  input: AsyncIterable<Buffer>,
  maxRecordBytes: number,
): AsyncGenerator<{ readonly line: number; readonly text: string }> {
  let line = 1;
  let parts: Buffer[] = [];
  let held = 0;
  const take = (tail: Buffer): string => {
    const bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    parts = [];
    held = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    if (end > maxRecordBytes) throw lineTooLarge(line, maxRecordBytes);
    return bytes.toString('utf8', 0, end);
  };
  for await (const chunk of input) {
    let start = 0;
    for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, start)) {
      // One byte of room for a `\r` that the line break will drop.
      if (held + at - start > maxRecordBytes + 1) throw lineTooLarge(line, maxRecordBytes);
      const text = take(chunk.subarray(start, at));
      yield { line, text };
      line += 1;
      start = at + 1;
    }
    const rest = chunk.subarray(start);
    held += rest.length;
    if (held > maxRecordBytes + 1) throw lineTooLarge(line, maxRecordBytes);
    // A copy: the stream may reuse its chunk's memory, and a slice would keep the whole chunk alive.
    if (rest.length > 0) parts.push(Buffer.from(rest));
  }
  if (held > 0) yield { line, text: take(Buffer.alloc(0)) };
}
