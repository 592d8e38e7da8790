import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runImportLocally } from '../../../lib/local/run-import.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { pipelineObjectUri } from '../../../lib/storage/staging.ts';
import type { LocalPipeline } from '../../support/local-pipeline.ts';

/** Members of every seeded group; `alice` also has a failed row (a record with too many fields). */
const NODES_CSV = 'reference_id,city\nalice,Oslo\nbob,Rome\ncarol,Lima\ndave,Kyiv\nalice,Oslo,extra\n';

/** What the first seeded group's import wrote: its success list and its staged folder. */
export interface SeededGroup {
  readonly successListUri: string;
  readonly stagedFolder: string;
}

/**
 * Seeds a domain through the real import path (nodes, metadata, a failed row, a recorded status message,
 * reports and staged files), then suggestions and users by SQL: per group, alice→bob, bob→alice,
 * carol→alice and carol→dave; users alice, bob and carol.
 */
export async function seedDomain(
  suite: LocalPipeline,
  domainId: string,
  groups: readonly string[],
): Promise<SeededGroup> {
  const file = join(suite.dir, `nodes-${domainId}.csv`);
  await writeFile(file, NODES_CSV);
  const { config } = await runtimeDeps();
  let first: SeededGroup | undefined;
  for (const groupId of groups) {
    const jobId = randomUUID();
    const message = await runImportLocally({
      jobId,
      kind: 'nodes',
      domainId,
      groupId,
      source: { uri: file },
      origin: 'test',
    });
    first ??= {
      successListUri: message.successListUri ?? '',
      stagedFolder: pipelineObjectUri(config, 'staging', jobId),
    };
    await suite.pool.query(
      `INSERT INTO match_suggestions (domain_id, group_id, participant_id, matched_participant_id, compatibility_score)
       VALUES ($1, $2, 'alice', 'bob', 0.9), ($1, $2, 'bob', 'alice', 0.8), ($1, $2, 'carol', 'alice', 0.7),
              ($1, $2, 'carol', 'dave', 0.6)`,
      [domainId, groupId],
    );
    await suite.pool.query(
      // Ready for matching: deleting them leaves tombstones (migration 0010) the erasure must remove too.
      `INSERT INTO users (domain_id, group_id, username, display_name, ready_for_matching)
       VALUES ($1, $2, 'alice', 'Alice', true), ($1, $2, 'bob', 'Bob', true), ($1, $2, 'carol', 'Carol', true)`,
      [domainId, groupId],
    );
  }
  if (!first) throw new Error('no group seeded');
  return first;
}

/** A row of some table of the domain that holds one of the references. */
export interface Trace {
  readonly table: string;
  readonly row: Record<string, unknown>;
}

/**
 * Every row of every table with a `domain_id` column (read from information_schema, so tables added later
 * are scanned too) whose value, anywhere — a text column, an array element, a value inside jsonb — is one of
 * `references`, in that domain.
 */
export async function tracesOf(
  pool: pg.Pool,
  domainId: string,
  references: readonly string[],
): Promise<Trace[]> {
  const tables = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND column_name = 'domain_id' ORDER BY table_name`,
  );
  const traces: Trace[] = [];
  for (const { table_name: table } of tables.rows) {
    const rows = await pool.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM ${pg.escapeIdentifier(table)} t
       WHERE t.domain_id = $1 AND EXISTS (
         SELECT 1 FROM unnest($2::text[]) r
         WHERE jsonb_path_exists(to_jsonb(t), '$.** ? (@ == $r)', jsonb_build_object('r', r)))`,
      [domainId, references],
    );
    for (const { row } of rows.rows) traces.push({ table, row });
  }
  return traces;
}
