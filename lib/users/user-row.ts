/**
 * The users resource of the bulk API: its fields, and the validation of one imported row (every error of
 * the row, not only the first). Pure: no I/O.
 */

type FieldSpec =
  | { readonly type: 'text'; readonly max: number; readonly required?: boolean }
  | { readonly type: 'boolean' }
  | { readonly type: 'date' }
  | { readonly type: 'age' }
  | { readonly type: 'list'; readonly max: number; readonly items: number };

/** The fields of a user row, in export order (besides `group_id`, every column of `users` an API sets). */
export const USER_FIELDS = {
  username: { type: 'text', max: 255, required: true },
  group_id: { type: 'text', max: 255 },
  display_name: { type: 'text', max: 255 },
  gender: { type: 'text', max: 50 },
  date_of_birth: { type: 'date' },
  location: { type: 'text', max: 255 },
  intent: { type: 'text', max: 50 },
  bio: { type: 'text', max: 2000 },
  smokes: { type: 'boolean' },
  drinks: { type: 'boolean' },
  wants_kids: { type: 'boolean' },
  education: { type: 'text', max: 255 },
  religion: { type: 'text', max: 255 },
  occupation: { type: 'text', max: 255 },
  preferred_genders: { type: 'list', max: 50, items: 20 },
  preferred_min_age: { type: 'age' },
  preferred_max_age: { type: 'age' },
  relationship_type: { type: 'text', max: 50 },
  open_to_long_distance: { type: 'boolean' },
  ready_for_matching: { type: 'boolean' },
} as const satisfies Record<string, FieldSpec>;

export type UserField = keyof typeof USER_FIELDS;
export const USER_FIELD_NAMES = Object.keys(USER_FIELDS) as UserField[];

/** A valid user row: text, booleans and numbers as they go to the database (null: not given). */
export type UserRow = {
  [K in UserField]: K extends 'preferred_genders' ? string[] : string | number | boolean | null;
} & {
  readonly username: string;
  readonly group_id: string;
};

/** In CSV a list is one cell, its items separated by `|`. */
export const CSV_LIST_SEPARATOR = '|';

const MIN_AGE = 18;
const MAX_AGE = 120;
const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

function isValidDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text) && date.getTime() <= Date.now();
}

/**
 * Validates one row. `fromText` (CSV) means every value is a string to be read as its field's type; NDJSON
 * values must have the JSON type of their field (a string for text and dates, true/false, an integer, an
 * array of strings). Empty CSV cells and JSON nulls are "not given"; unknown fields are ignored.
 * `defaultGroup` fills a missing `group_id`.
 */
export function validateUserRow(
  raw: Readonly<Record<string, unknown>>,
  opts: { readonly fromText: boolean; readonly defaultGroup: string },
): { readonly row: UserRow } | { readonly errors: string[] } {
  const errors: string[] = [];
  const row: Record<string, unknown> = {};
  for (const name of USER_FIELD_NAMES) {
    const spec: FieldSpec = USER_FIELDS[name];
    let value = raw[name];
    if (value === undefined || value === null || (opts.fromText && value === '')) value = null;
    if (value === null) {
      if ('required' in spec && spec.required) errors.push(`${name} is required`);
      row[name] = spec.type === 'list' ? [] : null;
      continue;
    }
    switch (spec.type) {
      case 'text':
        if (typeof value !== 'string') errors.push(`${name} must be a string`);
        else if (value.trim() === '' && 'required' in spec && spec.required)
          errors.push(`${name} is required`);
        else if ([...value].length > spec.max) errors.push(`${name} is longer than ${spec.max} characters`);
        else if (value.includes('\u0000')) errors.push(`${name} contains a NUL character`);
        else row[name] = value;
        break;
      case 'boolean': {
        const word = typeof value === 'string' && opts.fromText ? value.trim().toLowerCase() : undefined;
        if (typeof value === 'boolean') row[name] = value;
        else if (word !== undefined && TRUE_WORDS.has(word)) row[name] = true;
        else if (word !== undefined && FALSE_WORDS.has(word)) row[name] = false;
        else errors.push(`${name} must be true or false`);
        break;
      }
      case 'date':
        if (typeof value !== 'string' || !isValidDate(value))
          errors.push(`${name} must be a past date (YYYY-MM-DD)`);
        else row[name] = value;
        break;
      case 'age': {
        const n =
          typeof value === 'string' && opts.fromText && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
        if (typeof n !== 'number' || !Number.isInteger(n)) errors.push(`${name} must be an integer`);
        else if (n < MIN_AGE || n > MAX_AGE) errors.push(`${name} must be between ${MIN_AGE} and ${MAX_AGE}`);
        else row[name] = n;
        break;
      }
      case 'list': {
        const items =
          typeof value === 'string' && opts.fromText
            ? value.split(CSV_LIST_SEPARATOR).map((s) => s.trim())
            : value;
        if (!Array.isArray(items) || items.some((item) => typeof item !== 'string' || item === '')) {
          errors.push(`${name} must be a list of non-empty strings`);
        } else if (items.length > spec.items) {
          errors.push(`${name} has more than ${spec.items} items`);
        } else if (items.some((item: string) => [...item].length > spec.max)) {
          errors.push(`${name} has an item longer than ${spec.max} characters`);
        } else {
          row[name] = items;
        }
        break;
      }
    }
  }
  row.group_id ??= opts.defaultGroup;
  const min = row.preferred_min_age;
  const max = row.preferred_max_age;
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    errors.push('preferred_min_age is greater than preferred_max_age');
  }
  return errors.length > 0 ? { errors } : { row: row as UserRow };
}
