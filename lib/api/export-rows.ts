import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';
import { copyOut, sqlLiteral } from '../db/copy-out.ts';
import { readWithCursor } from '../db/cursor.ts';
import { query } from '../db/query.ts';
import { ApiRequestError } from '../errors.ts';
import type { ResourceType } from './import-jobs.ts';

export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What to export: one resource of one domain, optionally one group, rows updated after an instant, some fields. */
export interface ExportQuery {
  readonly resourceType: ResourceType;
  readonly format: ExportFormat;
  readonly domainId: string;
  readonly groupId?: string;
  readonly updatedSince?: string;
  readonly fields?: readonly string[];
}

/** A field's SQL: `csv` a text expression, `json` a value for json_build_object (defaults to `csv`). */
interface FieldSql {
  readonly csv: string;
  readonly json?: string;
}

const iso = (column: string): FieldSql => ({
  csv: `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
});
const plain = (column: string): FieldSql => ({ csv: `${column}::text`, json: column });

interface ResourceSql {
  /** FROM and the alias every field uses. */
  readonly from: string;
  readonly alias: string;
  readonly fields: Readonly<Record<string, FieldSql>>;
}

const RESOURCES: Readonly<Record<ResourceType, ResourceSql>> = {
  users: {
    from: 'users u',
    alias: 'u',
    fields: {
      username: plain('u.username'),
      group_id: plain('u.group_id'),
      display_name: plain('u.display_name'),
      gender: plain('u.gender'),
      date_of_birth: { csv: `to_char(u.date_of_birth, 'YYYY-MM-DD')` },
      location: plain('u.location'),
      intent: plain('u.intent'),
      bio: plain('u.bio'),
      smokes: plain('u.smokes'),
      drinks: plain('u.drinks'),
      wants_kids: plain('u.wants_kids'),
      education: plain('u.education'),
      religion: plain('u.religion'),
      occupation: plain('u.occupation'),
      preferred_genders: { csv: `array_to_string(u.preferred_genders, '|')`, json: 'u.preferred_genders' },
      preferred_min_age: plain('u.preferred_min_age'),
      preferred_max_age: plain('u.preferred_max_age'),
      relationship_type: plain('u.relationship_type'),
      open_to_long_distance: plain('u.open_to_long_distance'),
      ready_for_matching: plain('u.ready_for_matching'),
      created_at: iso('u.created_at'),
      updated_at: iso('u.updated_at'),
    },
  },
  nodes: {
    from: 'nodes n LEFT JOIN node_metadata m ON m.node_id = n.id',
    alias: 'n',
    fields: {
      reference_id: plain('n.reference_id'),
      group_id: plain('n.group_id'),
      type: plain('n.type'),
      processed: plain('n.processed'),
      metadata: { csv: `coalesce(m.metadata, '{}')::text`, json: `coalesce(m.metadata, '{}')` },
      created_at: iso('n.created_at'),
      updated_at: iso('n.updated_at'),
    },
  },
  matches: {
    from: 'match_suggestions s',
    alias: 's',
    fields: {
      group_id: plain('s.group_id'),
      participant_id: plain('s.participant_id'),
      matched_participant_id: plain('s.matched_participant_id'),
      compatibility_score: plain('s.compatibility_score'),
      rank: plain('s.rank'),
      details: plain('s.details'),
      created_at: iso('s.created_at'),
      updated_at: iso('s.updated_at'),
    },
  },
};

/** The fields a resource exports, in order. */
export function exportFields(resourceType: ResourceType): string[] {
  return Object.keys(RESOURCES[resourceType].fields);
}

/** Rows fetched per round trip: enough to amortise it, few enough to keep memory flat. */
const FETCH_ROWS = 2000;

interface BuiltQuery {
  readonly where: string;
  readonly values: unknown[];
  readonly resource: ResourceSql;
  readonly fields: readonly string[];
}

/**
 * The query's parts. `literal`, when given, inlines each value (escaped) instead of a `$n` parameter: COPY
 * takes no parameters.
 */
function build(query: ExportQuery, literal?: (value: string) => string): BuiltQuery {
  const resource = RESOURCES[query.resourceType];
  const known = Object.keys(resource.fields);
  const fields = query.fields && query.fields.length > 0 ? query.fields : known;
  const unknown = fields.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new ApiRequestError(
      400,
      'UNKNOWN_FIELD',
      `unknown field(s) of ${query.resourceType}: ${unknown.join(', ')}`,
    );
  }
  const values: unknown[] = [];
  const value = (v: string): string => {
    if (literal) return literal(v);
    values.push(v);
    return `$${values.length}`;
  };
  const conditions = [`${resource.alias}.domain_id = ${value(query.domainId)}::uuid`];
  if (query.groupId !== undefined) conditions.push(`${resource.alias}.group_id = ${value(query.groupId)}`);
  if (query.updatedSince !== undefined) {
    conditions.push(`${resource.alias}.updated_at > ${value(query.updatedSince)}::timestamptz`);
  }
  return { where: conditions.join(' AND '), values, resource, fields };
}

/** How many rows an export would send (to refuse a stream too large for one response). */
export async function countExportRows(pool: pg.Pool, exportQuery: ExportQuery): Promise<number> {
  const q = build(exportQuery);
  const result = await query<{ n: string }>(
    pool,
    `SELECT count(*) AS n FROM ${q.resource.from} WHERE ${q.where}`,
    q.values,
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** Checks the query (fields) without running it; throws what {@link exportChunks} would. */
export function checkExportQuery(query: ExportQuery): void {
  build(query);
}

/**
 * A CSV export straight from PostgreSQL's `COPY … TO STDOUT` (the database formats and quotes the rows,
 * Node only forwards bytes), on a dedicated connection whose socket is paused while the consumer is slow:
 * memory stays flat. A consumer that stops early (a client gone) destroys that connection, which ends the
 * COPY server-side.
 */
export async function* exportCsvByCopy(pool: pg.Pool, query: ExportQuery): AsyncGenerator<Buffer> {
  const q = build(query, sqlLiteral);
  const select = q.fields.map((name) => `${q.resource.fields[name]?.csv} AS ${name}`).join(', ');
  const sql = `SELECT ${select} FROM ${q.resource.from} WHERE ${q.where}`;
  yield* copyOut(pool, `COPY (${sql}) TO STDOUT WITH (FORMAT csv, HEADER true)`);
}

/**
 * The export as text chunks (CSV with a header row, or NDJSON), read through a server-side cursor
 * {@link FETCH_ROWS} rows at a time: memory stays flat whatever the row count, and a consumer that stops
 * early (a client gone) ends the transaction. `onRows` is told how many rows each chunk holds.
 */
export async function* exportChunks(
  pool: pg.Pool,
  query: ExportQuery,
  onRows: (rows: number) => void = () => undefined,
): AsyncGenerator<string> {
  const q = build(query);
  const select =
    query.format === 'csv'
      ? q.fields.map((name) => `${q.resource.fields[name]?.csv} AS ${name}`).join(', ')
      : `json_build_object(${q.fields
          .map((name) => {
            const sql = q.resource.fields[name];
            return `'${name}', ${sql?.json ?? sql?.csv}`;
          })
          .join(', ')})::text`;
  const pages = readWithCursor(pool, {
    begin: 'BEGIN READ ONLY',
    sql: `SELECT ${select} FROM ${q.resource.from} WHERE ${q.where}`,
    params: q.values,
    pageRows: FETCH_ROWS,
  });
  if (query.format === 'csv') yield stringify([q.fields]);
  for await (const rows of pages) {
    onRows(rows.length);
    yield query.format === 'csv' ? stringify(rows) : `${rows.map((row) => row[0] as string).join('\n')}\n`;
  }
}
