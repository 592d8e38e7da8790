import { NUL_CHARACTER, type ParsedRow, type StagedBlock } from '../csv/parse-range.ts';
import type { RowRejection } from '../model/types.ts';

/**
 * Encodes parsed rows as CSV lines `line,"reference","metadata JSON"` for the parsed-row layout
 * (`PARSED_ROW_LAYOUT` in node-repository.ts).
 */
export async function* stageParsedRows(
  rows: AsyncIterable<ParsedRow | RowRejection>,
  blockRows: number,
): AsyncGenerator<StagedBlock> {
  let text = '';
  let records = 0;
  let rejections: RowRejection[] = [];
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  for await (const item of rows) {
    if ('code' in item) {
      rejections.push(item);
    } else if (hasNul(item)) {
      rejections.push({
        line: item.line,
        reference: item.reference.replaceAll('\0', '\uFFFD'),
        code: NUL_CHARACTER,
        reason: 'the row contains a NUL character, which cannot be stored',
      });
    } else {
      text += `${item.line},${quote(item.reference)},${quote(JSON.stringify(item.metadata))}\n`;
      records += 1;
    }
    if (records + rejections.length >= blockRows) {
      yield { csv: Buffer.from(text), records, rejections };
      text = '';
      records = 0;
      rejections = [];
    }
  }
  if (records + rejections.length > 0) yield { csv: Buffer.from(text), records, rejections };
}

/** The staged rows and rejections of one DB batch. */
export class DbBatch {
  readonly payload: Buffer[] = [];
  readonly rejections: RowRejection[] = [];
  records = 0;
  size = 0;
  bytes = 0;

  add(block: StagedBlock): void {
    if (block.records > 0) {
      this.payload.push(block.csv);
      this.bytes += block.csv.length;
    }
    this.records += block.records;
    for (const rejection of block.rejections) this.rejections.push(rejection);
    this.size += block.records + block.rejections.length;
  }
}

function hasNul(row: ParsedRow): boolean {
  if (row.reference.includes('\0')) return true;
  for (const key in row.metadata) {
    if (key.includes('\0') || row.metadata[key]?.includes('\0')) return true;
  }
  return false;
}
