import {
  type FileMetaData,
  type LogicalType,
  parquetSchema,
  type SchemaElement,
  type SchemaTree,
} from 'hyparquet';
import { InvalidFileError } from '../errors.ts';
import type { MatchColumn } from './types.ts';

/** Names of the columns a match file gives meaning to; every other column goes to `details`. */
export const MatchColumnName = {
  PARTICIPANT_ID: 'participant_id',
  MATCHED_PARTICIPANT_ID: 'matched_participant_id',
  COMPATIBILITY_SCORE: 'compatibility_score',
  RANK: 'rank',
} as const;

/** Most top-level columns in a match file: keeps the plan (which lists them) small. */
export const MAX_MATCH_COLUMNS = 1000;

const KNOWN_NAMES: ReadonlySet<string> = new Set(Object.values(MatchColumnName));

interface ColumnRule {
  readonly name: string;
  readonly required: boolean;
  readonly expected: string;
  readonly accepts: (element: SchemaElement) => boolean;
}

const RULES: readonly ColumnRule[] = [
  {
    name: MatchColumnName.PARTICIPANT_ID,
    required: true,
    expected: 'a string (BYTE_ARRAY/STRING or UUID)',
    accepts: isStringElement,
  },
  {
    name: MatchColumnName.MATCHED_PARTICIPANT_ID,
    required: true,
    expected: 'a string (BYTE_ARRAY/STRING or UUID)',
    accepts: isStringElement,
  },
  {
    name: MatchColumnName.COMPATIBILITY_SCORE,
    required: true,
    expected: 'a floating-point number (DOUBLE or FLOAT)',
    accepts: isFloatingElement,
  },
  {
    name: MatchColumnName.RANK,
    required: false,
    expected: 'an integer (INT32 or INT64)',
    accepts: isIntegerElement,
  },
];

/**
 * Checks the schema of a match file and describes its top-level columns, in file order.
 * `participant_id`, `matched_participant_id` (strings) and `compatibility_score` (DOUBLE or FLOAT) are
 * required, `rank` (INT32 or INT64) is optional; each must be a plain, non-repeated column. Nullable
 * columns are accepted: a null in a row makes that row fail, not the file.
 *
 * @throws InvalidFileError `MISSING_COLUMN` (details `column`: the first missing, `missing`: all),
 *   `WRONG_COLUMN_TYPE` (details `column`, `type`, `expected`), `DUPLICATE_COLUMN`,
 *   `UNSUPPORTED_COLUMN_TYPE` (a BSON or INTERVAL column, which the reader cannot decode),
 *   `TOO_MANY_COLUMNS` (more than {@link MAX_MATCH_COLUMNS}).
 */
export function resolveMatchColumns(metadata: FileMetaData, uri: string): MatchColumn[] {
  const top = parquetSchema(metadata).children;
  if (top.length > MAX_MATCH_COLUMNS) {
    throw new InvalidFileError(
      'TOO_MANY_COLUMNS',
      `${uri} has ${top.length} columns, more than ${MAX_MATCH_COLUMNS}`,
      { uri, columns: top.length, max: MAX_MATCH_COLUMNS },
    );
  }
  const byName = new Map<string, SchemaTree>();
  for (const node of top) {
    const { name } = node.element;
    if (byName.has(name)) {
      throw new InvalidFileError('DUPLICATE_COLUMN', `${uri} has two columns named ${name}`, {
        uri,
        column: name,
      });
    }
    byName.set(name, node);
  }
  const missing = RULES.filter((rule) => rule.required && !byName.has(rule.name)).map((rule) => rule.name);
  if (missing.length > 0) {
    throw new InvalidFileError(
      'MISSING_COLUMN',
      `${uri} has no column ${missing.join(', ')} (required: participant_id, matched_participant_id, compatibility_score)`,
      { uri, column: missing[0], missing },
    );
  }
  for (const rule of RULES) {
    const node = byName.get(rule.name);
    if (
      node &&
      (node.children.length > 0 || node.element.repetition_type === 'REPEATED' || !rule.accepts(node.element))
    ) {
      const type = describeColumnType(node);
      throw new InvalidFileError(
        'WRONG_COLUMN_TYPE',
        `${uri}: column ${rule.name} is ${type}, expected ${rule.expected}`,
        { uri, column: rule.name, type, expected: rule.expected },
      );
    }
  }
  for (const node of top) {
    const unsupported = findUnsupported(node);
    if (unsupported) {
      throw new InvalidFileError(
        'UNSUPPORTED_COLUMN_TYPE',
        `${uri}: column ${node.element.name} holds ${unsupported} values, which cannot be read`,
        { uri, column: node.element.name, type: unsupported },
      );
    }
  }
  return top.map((node) => ({ name: node.element.name, type: describeColumnType(node) }));
}

/** True for the column names that are not copied into `details`. */
export function isKnownMatchColumn(name: string): boolean {
  return KNOWN_NAMES.has(name);
}

/** A short description of a column's type: physical type, then its logical or converted annotation. */
export function describeColumnType(node: SchemaTree): string {
  const { element } = node;
  const annotation = describeLogicalType(element.logical_type) ?? element.converted_type;
  const base = node.children.length > 0 ? 'GROUP' : (element.type ?? 'GROUP');
  const type = annotation ? `${base}/${annotation}` : base;
  return element.repetition_type === 'REPEATED' ? `REPEATED ${type}` : type;
}

function describeLogicalType(logical: LogicalType | undefined): string | undefined {
  if (!logical) return undefined;
  switch (logical.type) {
    case 'TIMESTAMP':
    case 'TIME':
      return `${logical.type}(${logical.unit})`;
    case 'DECIMAL':
      return `DECIMAL(${logical.precision},${logical.scale})`;
    case 'INTEGER':
      return `${logical.isSigned ? 'INT' : 'UINT'}(${logical.bitWidth})`;
    default:
      return logical.type;
  }
}

function isStringElement(element: SchemaElement): boolean {
  const logical = element.logical_type?.type;
  if (element.type === 'FIXED_LEN_BYTE_ARRAY') return logical === 'UUID';
  if (element.type !== 'BYTE_ARRAY') return false;
  if (logical !== undefined) return logical === 'STRING' || logical === 'ENUM';
  const converted = element.converted_type;
  return converted === undefined || converted === 'UTF8' || converted === 'ENUM';
}

function isFloatingElement(element: SchemaElement): boolean {
  return (
    (element.type === 'DOUBLE' || element.type === 'FLOAT') &&
    element.logical_type === undefined &&
    element.converted_type === undefined
  );
}

function isIntegerElement(element: SchemaElement): boolean {
  if (element.type !== 'INT32' && element.type !== 'INT64') return false;
  const logical = element.logical_type?.type;
  if (logical !== undefined) return logical === 'INTEGER';
  const converted = element.converted_type;
  return converted === undefined || converted.startsWith('INT_') || converted.startsWith('UINT_');
}

function findUnsupported(node: SchemaTree): string | undefined {
  const { converted_type: converted, logical_type: logical } = node.element;
  if (converted === 'BSON' || logical?.type === 'BSON') return 'BSON';
  if (converted === 'INTERVAL' || logical?.type === 'INTERVAL') return 'INTERVAL';
  for (const child of node.children) {
    const found = findUnsupported(child);
    if (found) return found;
  }
  return undefined;
}
