/**
 * The columns of an exported users file: `reference_id` (the username, the column the node import keys on),
 * then every field of the design's users list, each as the SQL expression that renders it as text. Booleans
 * are `true`/`false`, dates `YYYY-MM-DD`, the preferred genders a JSON array; NULL (and an empty list) is an
 * empty cell, which the node import leaves out of the metadata.
 */
export const USER_EXPORT_COLUMNS: ReadonlyArray<{
  readonly name: string;
  readonly sql: string;
  /**
   * The text never starts with a character the spreadsheet escape changes and is never empty (booleans,
   * dates, the JSON array): the file needs no escape of it, and the COPY evaluates none.
   */
  readonly plain?: true;
}> = [
  { name: 'reference_id', sql: 'username' },
  { name: 'username', sql: 'username' },
  { name: 'group_id', sql: 'group_id' },
  { name: 'display_name', sql: 'display_name' },
  { name: 'gender', sql: 'gender' },
  { name: 'date_of_birth', sql: "to_char(date_of_birth, 'YYYY-MM-DD')", plain: true },
  { name: 'location', sql: 'location' },
  { name: 'intent', sql: 'intent' },
  { name: 'bio', sql: 'bio' },
  { name: 'smokes', sql: 'smokes::text', plain: true },
  { name: 'drinks', sql: 'drinks::text', plain: true },
  { name: 'wants_kids', sql: 'wants_kids::text', plain: true },
  { name: 'education', sql: 'education' },
  { name: 'religion', sql: 'religion' },
  { name: 'occupation', sql: 'occupation' },
  {
    name: 'preferred_genders',
    sql: 'CASE WHEN cardinality(preferred_genders) > 0 THEN array_to_json(preferred_genders)::text END',
    plain: true,
  },
  { name: 'preferred_min_age', sql: 'preferred_min_age::text' },
  { name: 'preferred_max_age', sql: 'preferred_max_age::text' },
  { name: 'relationship_type', sql: 'relationship_type' },
  { name: 'open_to_long_distance', sql: 'open_to_long_distance::text', plain: true },
  { name: 'ready_for_matching', sql: 'ready_for_matching::text', plain: true },
];

/** Just the username: what a non-cost-based group's export reads. */
export const USERNAME_COLUMNS: ReadonlyArray<{ readonly name: string; readonly sql: string }> = [
  { name: 'username', sql: 'username' },
];
