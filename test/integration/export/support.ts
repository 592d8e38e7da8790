import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type pg from 'pg';
import { config } from '../../../lib/config.ts';
import { copyGroupUsersCsv } from '../../../lib/export/export-repository.ts';
import type { OutgoingRequest } from '../../../lib/export/request-sender.ts';
import { USER_EXPORT_COLUMNS } from '../../../lib/export/user-columns.ts';
import { ingestRecords, type KafkaIngestOutcome } from '../../../lib/ingest/ingest-records.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { openLocalIngest } from '../../../lib/local/ingest.ts';
import { outboxFile } from '../../../lib/local/outbox.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';
import { closeRuntimeDeps } from '../../../lib/runtime/deps.ts';
import { closeExportDeps } from '../../../lib/runtime/export-deps.ts';
import { testDatabase } from '../../support/database.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';

/** A user row as the tests insert it. */
export interface TestUser {
  readonly username: string;
  readonly display_name?: string | null;
  readonly gender?: string | null;
  readonly date_of_birth?: string | null;
  readonly location?: string | null;
  readonly intent?: string | null;
  readonly bio?: string | null;
  readonly smokes?: boolean | null;
  readonly drinks?: boolean | null;
  readonly wants_kids?: boolean | null;
  readonly education?: string | null;
  readonly religion?: string | null;
  readonly occupation?: string | null;
  readonly preferred_genders?: string[];
  readonly preferred_min_age?: number | null;
  readonly preferred_max_age?: number | null;
  readonly relationship_type?: string | null;
  readonly open_to_long_distance?: boolean | null;
  readonly ready_for_matching?: boolean;
}

const TEXT_FIELDS = [
  'display_name',
  'gender',
  'date_of_birth',
  'location',
  'intent',
  'bio',
  'education',
  'religion',
  'occupation',
  'relationship_type',
] as const;
const BOOLEAN_FIELDS = ['smokes', 'drinks', 'wants_kids', 'open_to_long_distance'] as const;
const NUMBER_FIELDS = ['preferred_min_age', 'preferred_max_age'] as const;

/** What an export suite works with; filled in before its first test. */
export interface LocalExport {
  /** The local home: the outbox and the export files are in it. */
  home: string;
  pool: pg.Pool;
}

/** What an export suite writing to an S3-compatible store works with: also the store. */
export interface LocalS3Export extends LocalExport {
  s3: TestS3;
}

/** Local-mode settings of a suite, or a function giving them when the suite starts. */
type SuiteSettings = Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>);

/** Export settings for small runs: no incremental overlap, and DB batches of 2 users. */
export const SMALL_EXPORT_BATCHES = {
  EXPORT_INCREMENTAL_OVERLAP_SECONDS: '0',
  EXPORT_BATCH_ROWS: '2',
} as const;

/**
 * Sets up a suite that runs exports in-process: a temporary folder (the local home is `home/` in it), its own
 * migrated database `name`, and local mode with `settings` (a function is called when the suite starts, after
 * the hooks registered before this call); everything is closed and removed after the suite.
 */
export function localExport(name: string, settings: SuiteSettings = {}): LocalExport {
  return setUpLocalExport(name, settings);
}

/**
 * {@link localExport} with the export files in `bucket` of an S3-compatible server (s3rver) started for the
 * suite and stopped after it.
 */
export function localS3Export(name: string, bucket: string, settings: SuiteSettings = {}): LocalS3Export {
  return setUpLocalExport(name, settings, bucket) as LocalS3Export;
}

function setUpLocalExport(
  name: string,
  settings: SuiteSettings,
  bucket?: string,
): LocalExport | LocalS3Export {
  const suite = {} as LocalExport & { s3?: TestS3 };
  let dir: string | undefined;
  let closeDb: (() => Promise<void>) | undefined;
  before(async () => {
    if (bucket !== undefined) {
      suite.s3 = await startTestS3(bucket);
      // The SDK's default credential chain reads these; s3rver accepts its own pair.
      process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
      process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    }
    dir = await mkdtemp(join(tmpdir(), `mb-${name}-`));
    suite.home = join(dir, 'home');
    const db = await testDatabase(name);
    suite.pool = db.pool;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: suite.home,
      ...(suite.s3 ? { S3_ENDPOINT: suite.s3.endpoint, EXPORT_BUCKET: suite.s3.bucket } : {}),
      ...(typeof settings === 'function' ? settings() : settings),
    });
  });
  after(async () => {
    await closeExportDeps();
    await closeRuntimeDeps();
    await closeDb?.();
    await suite.s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return suite;
}

/**
 * The whole group's export file as one function writes it, as text: the COPY of every ready user, header
 * first. A file made of several ranges must be these bytes.
 */
export async function wholeGroupCsv(pool: pg.Pool, domainId: string, groupId: string): Promise<string> {
  const chunks: Buffer[] = [];
  const read = copyGroupUsersCsv(
    pool,
    { domainId, groupId, since: null, columns: USER_EXPORT_COLUMNS },
    { after: null, through: null, header: true },
    {},
  );
  for await (const chunk of read) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Delivers requests to the local ingest in one MSK event, as Kafka would; returns what the ingest did and
 * the final messages of the jobs it started (run to their end).
 */
export async function ingestRequests(
  requests: readonly OutgoingRequest[],
): Promise<{ outcome: KafkaIngestOutcome; jobs: JobStatusMessage[] }> {
  const local = openLocalIngest(config());
  const outcome = await ingestRecords(
    mskEvent(
      requests.map((r, offset) =>
        mskRecord(r.value, { topic: r.topic, offset, key: r.key, headers: { ...r.headers } }),
      ),
    ),
    local.deps,
  );
  return { outcome, jobs: [...local.starter.finished.values()] };
}

/**
 * Feeds a run's requests from the local outbox through the local ingest, as Kafka would deliver them; each
 * must start a job, none dead-lettered or failed. Returns the requests and the jobs' final messages.
 */
export async function ingestRun(
  home: string,
  runId: string,
): Promise<{ requests: OutgoingRequest[]; jobs: JobStatusMessage[] }> {
  const requests = await outboxRequests(home, runId);
  const { outcome, jobs } = await ingestRequests(requests);
  assert.deepEqual(outcome.deadLettered, []);
  assert.deepEqual(outcome.batchItemFailures, []);
  assert.equal(outcome.started.length, requests.length);
  return { requests, jobs };
}

/** A new domain, with the given groups (`[groupId, costBased, exportTopic?]`). */
export async function createDomain(
  pool: pg.Pool,
  groups: ReadonlyArray<readonly [string, boolean, string?]>,
): Promise<string> {
  const domainId = randomUUID();
  await pool.query('INSERT INTO domains (id, name) VALUES ($1, $2)', [domainId, `test ${domainId}`]);
  for (const [groupId, costBased, topic] of groups) {
    await pool.query(
      `INSERT INTO matching_groups (domain_id, group_id, name, cost_based, export_topic)
       VALUES ($1, $2, $5, $3, $4)`,
      [domainId, groupId, costBased, topic ?? null, groupId],
    );
  }
  return domainId;
}

/** Inserts users of a group (ready for matching unless they say otherwise). */
export async function insertUsers(
  pool: pg.Pool,
  domainId: string,
  groupId: string,
  users: readonly TestUser[],
): Promise<void> {
  for (const u of users) {
    await pool.query(
      `INSERT INTO users (domain_id, group_id, username, display_name, gender, date_of_birth, location, intent, bio,
                          smokes, drinks, wants_kids, education, religion, occupation, preferred_genders,
                          preferred_min_age, preferred_max_age, relationship_type, open_to_long_distance,
                          ready_for_matching)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
      [
        domainId,
        groupId,
        u.username,
        u.display_name ?? null,
        u.gender ?? null,
        u.date_of_birth ?? null,
        u.location ?? null,
        u.intent ?? null,
        u.bio ?? null,
        u.smokes ?? null,
        u.drinks ?? null,
        u.wants_kids ?? null,
        u.education ?? null,
        u.religion ?? null,
        u.occupation ?? null,
        u.preferred_genders ?? [],
        u.preferred_min_age ?? null,
        u.preferred_max_age ?? null,
        u.relationship_type ?? null,
        u.open_to_long_distance ?? null,
        u.ready_for_matching ?? true,
      ],
    );
  }
}

/**
 * The node metadata a user should become, worked out here independently of the export's SQL: every field
 * with a value, as text (booleans `true`/`false`, numbers in decimal, the genders a JSON array).
 */
export function expectedMetadata(u: TestUser, groupId: string): Record<string, string> {
  const metadata: Record<string, string> = { username: u.username, group_id: groupId };
  for (const field of TEXT_FIELDS) {
    const value = u[field];
    if (value) metadata[field] = value;
  }
  for (const field of [...BOOLEAN_FIELDS, ...NUMBER_FIELDS]) {
    const value = u[field];
    if (value !== null && value !== undefined) metadata[field] = String(value);
  }
  if (u.preferred_genders?.length) metadata.preferred_genders = JSON.stringify(u.preferred_genders);
  metadata.ready_for_matching = String(u.ready_for_matching ?? true);
  return metadata;
}

/** Each node of a group with its metadata, by reference id. */
export async function nodesOf(
  pool: pg.Pool,
  domainId: string,
  groupId: string,
): Promise<Map<string, Record<string, string> | null>> {
  const { rows } = await pool.query<{ reference_id: string; metadata: Record<string, string> | null }>(
    `SELECT n.reference_id, m.metadata FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
      WHERE n.domain_id = $1 AND n.group_id = $2`,
    [domainId, groupId],
  );
  return new Map(rows.map((r) => [r.reference_id, r.metadata]));
}

/** The requests of one run kept in the local outbox, in the order they were sent. */
export async function outboxRequests(home: string, runId: string): Promise<OutgoingRequest[]> {
  const text = await readFile(outboxFile(home), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutgoingRequest & { value: unknown })
    .filter((r) => r.headers.runId === runId)
    .map((r) => ({ ...r, value: JSON.stringify(r.value) }));
}

/** The records of a local CSV.gz export file, header first, cells as written. */
export async function fileRecords(path: string): Promise<string[][]> {
  return parse(gunzipSync(await readFile(path))) as string[][];
}
