import { InvalidFileError } from '../errors.ts';

/** The column every node CSV must have, after {@link normalizeHeaderName}. */
export const REFERENCE_COLUMN = 'reference_id';

/**
 * Most columns a node CSV may have. Each is a column of the load's staging table, whose rows must fit a
 * PostgreSQL page: 400 cells moved out of line take 400 × 18 bytes, under the 8 KB a row may take, so any
 * record within the size limit can be staged (PostgreSQL's own limit, 1600 columns, is not enough for that).
 */
export const MAX_COLUMNS = 400;

/** A resolved header: normalised names in file order and the index of the reference column. */
export interface ResolvedHeader {
  readonly header: string[];
  readonly referenceColumn: number;
}

// Word boundaries inside a name: `firstName` → `first_Name`, `HTTPStatus` → `HTTP_Status`.
const LOWER_THEN_UPPER = /([\p{Ll}\p{N}])(\p{Lu})/gu;
const ACRONYM_THEN_WORD = /(\p{Lu})(\p{Lu}\p{Ll})/gu;
const SEPARATORS = /[\s.-]+/gu;
const UNDERSCORES = /_+/g;
const EDGE_UNDERSCORES = /^_+|_+$/g;

/**
 * Normalises a header name to lower snake_case: trims it, splits camelCase/PascalCase words, turns spaces,
 * hyphens and dots into `_`, lowercases, collapses repeated `_` and strips them at both ends.
 * `Reference ID`, `referenceId`, `REFERENCE-ID` and ` reference_id ` all give `reference_id`;
 * `HTTPStatus` gives `http_status`. Other characters are kept as they are.
 */
export function normalizeHeaderName(raw: string): string {
  return raw
    .trim()
    .replace(LOWER_THEN_UPPER, '$1_$2')
    .replace(ACRONYM_THEN_WORD, '$1_$2')
    .replace(SEPARATORS, '_')
    .toLowerCase()
    .replace(UNDERSCORES, '_')
    .replace(EDGE_UNDERSCORES, '');
}

/**
 * Normalises the raw names of a header record and finds the reference column.
 *
 * @throws InvalidFileError `TOO_MANY_COLUMNS` past {@link MAX_COLUMNS}, `INVALID_HEADER` when a name holds
 *   a NUL character (PostgreSQL text, and so a metadata key, cannot), `EMPTY_HEADER_NAME` when a name is
 *   blank (or normalises to nothing), `DUPLICATE_COLUMN` when two names normalise to the same name,
 *   `NO_REFERENCE_COLUMN` when no name normalises to `reference_id`.
 */
export function resolveHeader(rawNames: readonly string[]): ResolvedHeader {
  if (rawNames.length > MAX_COLUMNS) {
    throw new InvalidFileError(
      'TOO_MANY_COLUMNS',
      `the header has ${rawNames.length} columns, more than ${MAX_COLUMNS}`,
      { columns: rawNames.length },
    );
  }
  const header: string[] = [];
  const seen = new Map<string, number>();
  for (let column = 0; column < rawNames.length; column++) {
    const raw = rawNames[column]!;
    if (raw.includes('\0')) {
      throw new InvalidFileError('INVALID_HEADER', `header column ${column + 1} holds a NUL character`, {
        column: column + 1,
      });
    }
    const name = normalizeHeaderName(raw);
    if (name === '') {
      throw new InvalidFileError('EMPTY_HEADER_NAME', `header column ${column + 1} has no name`, {
        column: column + 1,
        raw,
      });
    }
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw new InvalidFileError(
        'DUPLICATE_COLUMN',
        `header columns ${previous + 1} (${JSON.stringify(rawNames[previous])}) and ${column + 1} ` +
          `(${JSON.stringify(raw)}) both mean "${name}"`,
        { name, columns: [previous + 1, column + 1] },
      );
    }
    seen.set(name, column);
    header.push(name);
  }
  const referenceColumn = seen.get(REFERENCE_COLUMN);
  if (referenceColumn === undefined) {
    throw new InvalidFileError('NO_REFERENCE_COLUMN', `the header has no "${REFERENCE_COLUMN}" column`, {
      header,
    });
  }
  return { header, referenceColumn };
}
