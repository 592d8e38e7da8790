import type pg from 'pg';
import { NUL_CHARACTER } from '../csv/parse-range.ts';
import { DB_BATCH_BYTES, writeInBatches } from '../db/batch-writer.ts';
import { deadlineExceeded } from '../db/cancel.ts';
import { query } from '../db/query.ts';
import {
  type DbBatchPosition,
  IDLE_IN_TRANSACTION_TIMEOUT,
  WORK_MEM,
  type WrittenCounts,
  writeStagedBatch,
} from '../db/staged-batch.ts';
import type { BatchIdentity, JobRef, LoadCounts, RowRejection } from '../model/types.ts';
import type { MatchRowRejection, MatchRowRun, MatchRowVisitor } from './match-rows.ts';

/** Options of {@link loadMatches}. */
export interface LoadMatchesOptions {
  /** Rows (valid or rejected) per database transaction. Memory is bounded by about twice this. */
  readonly dbBatchRows: number;
  /** Staged bytes at which a DB batch ends, however few its rows. Default {@link DB_BATCH_BYTES}. */
  readonly dbBatchBytes?: number;
  /** Aborting stops the load: the open transaction is cancelled and rolled back. */
  readonly signal?: AbortSignal;
  /** The batch these rows are, to count each DB batch once: see {@link DbBatchPosition}. */
  readonly batch?: BatchIdentity;
  /** Counts and rejects as a real load, writes no match suggestion (see `writeStagedBatch`). */
  readonly dryRun?: boolean;
  /** The as-of of the rows; default the job's (`import_jobs.as_of`), or now when it has none. */
  readonly asOf?: Date;
}

/** The as-of a job's rows carry: recorded by its plan, else now (a job with no row, or from before as-of). */
export async function jobAsOf(pool: pg.Pool, jobId: string): Promise<Date> {
  const { rows } = await query<{ as_of: Date }>(
    pool,
    'SELECT coalesce((SELECT as_of FROM import_jobs WHERE id = $1), statement_timestamp()) AS as_of',
    [jobId],
  );
  return rows[0]!.as_of;
}

/**
 * Opens a DB batch: temp table and COPY target in one transaction (RDS Proxy pins a session that creates a
 * temp table; ON COMMIT DROP ends that with the transaction). The id columns use COLLATE "C" like the table,
 * so that de-duplication and the key order of the upsert are the index's order. Its columns are those of
 * {@link COPY_NEW_SQL}, so that one COPY payload serves both; the domain, group, job and as-of columns
 * are not read (the upsert takes them as parameters).
 */
const BEGIN_SQL = `BEGIN;
SET LOCAL work_mem = '${WORK_MEM}';
SET LOCAL jit = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL idle_in_transaction_session_timeout = '${IDLE_IN_TRANSACTION_TIMEOUT}';
CREATE TEMP TABLE mb_match_stage (
  domain_id text NOT NULL,
  group_id text NOT NULL,
  participant_id text COLLATE "C" NOT NULL,
  matched_participant_id text COLLATE "C" NOT NULL,
  compatibility_score double precision NOT NULL,
  rank integer,
  details jsonb NOT NULL,
  job_id text NOT NULL,
  row bigint NOT NULL,
  as_of timestamptz NOT NULL
) ON COMMIT DROP;
SELECT pg_backend_pid() AS pid`;

const COPY_SQL = 'COPY mb_match_stage FROM STDIN WITH (FREEZE)';

/**
 * The usual case, new suggestions, at the least database work: the rows straight into the table, no temp
 * table, sort or INSERT … SELECT (about three quarters of the staged path's PostgreSQL CPU, measured; and a
 * plain insert costs half of an INSERT … ON CONFLICT). It fails with a unique violation at the first key
 * that is stored, committed concurrently or repeated in the DB batch (or with a deadlock against a
 * concurrent job inserting the same new keys in another order); the DB batch then stages the same rows and
 * runs {@link UPSERT_SQL} instead, and the rest of the load goes straight there: its keys are likely stored.
 */
const COPY_NEW_SQL = `COPY match_suggestions (domain_id, group_id, participant_id, matched_participant_id,
  compatibility_score, rank, details, last_job_id, last_row, as_of) FROM STDIN`;

/** The staged rows, the last row of each key only, in key order (the DISTINCT ON sort gives it). */
const DEDUPLICATED = `(
    SELECT DISTINCT ON (participant_id, matched_participant_id)
      row, participant_id, matched_participant_id, compatibility_score, rank, details
    FROM mb_match_stage
    ORDER BY participant_id, matched_participant_id, row DESC
  ) s`;

const TARGET_COLUMNS = `match_suggestions AS m (domain_id, group_id, participant_id, matched_participant_id,
    compatibility_score, rank, details, last_job_id, last_row, as_of)`;
const SOURCE_VALUES =
  '$2, $1, s.participant_id, s.matched_participant_id, s.compatibility_score, s.rank, s.details, $3, s.row, $4';

/**
 * A stored suggestion holding newer data than the row of another job: kept as it is. Rows of the same job are
 * never stale to each other (one job has one as-of; a job row without one gives each load its own time).
 */
const NEWER_SUGGESTION = '(m.as_of > excluded.as_of AND m.last_job_id IS DISTINCT FROM excluded.last_job_id)';

/**
 * Upserts the de-duplicated rows (the last row of a key wins), fed in key order so that concurrent batches
 * lock rows in the same order and cannot deadlock. The DO UPDATE applies only when the suggestion was last
 * written by another job, or by an earlier (or the same) row of this job: a key repeated across batches of
 * one file ends with the later row's values whatever order the batches commit in. `job_writes` counts the
 * distinct rows of this job that wrote the key; a key skipped by the WHERE, or returned with job_writes > 1,
 * was already written by this job from another row: a duplicate. A suggestion is overwritten only by rows
 * as new as its own as-of (the engine's run time; NULL, from before as-of, is older than anything): one
 * holding newer data takes the DO UPDATE with every column kept, so that RETURNING names it, still another
 * job's: stale (decided on the row's latest version, exact under concurrent jobs).
 * $1 group, $2 domain, $3 job, $4 the job's as-of.
 */
const UPSERT_ROWS = `INSERT INTO ${TARGET_COLUMNS}
  SELECT ${SOURCE_VALUES}
  FROM ${DEDUPLICATED}
  ORDER BY s.participant_id, s.matched_participant_id
  ON CONFLICT (domain_id, group_id, participant_id, matched_participant_id) DO UPDATE SET
    compatibility_score = CASE WHEN ${NEWER_SUGGESTION} THEN m.compatibility_score ELSE excluded.compatibility_score END,
    rank = CASE WHEN ${NEWER_SUGGESTION} THEN m.rank ELSE excluded.rank END,
    details = CASE WHEN ${NEWER_SUGGESTION} THEN m.details ELSE excluded.details END,
    updated_at = CASE WHEN ${NEWER_SUGGESTION} THEN m.updated_at ELSE now() END,
    last_job_id = CASE WHEN ${NEWER_SUGGESTION} THEN m.last_job_id ELSE excluded.last_job_id END,
    last_row = CASE WHEN ${NEWER_SUGGESTION} THEN m.last_row ELSE excluded.last_row END,
    as_of = greatest(m.as_of, excluded.as_of),
    job_writes = CASE
      WHEN ${NEWER_SUGGESTION} THEN m.job_writes
      WHEN m.last_job_id = excluded.last_job_id AND m.last_row <> excluded.last_row THEN m.job_writes + 1
      WHEN m.last_job_id = excluded.last_job_id THEN m.job_writes
      ELSE 1
    END
  WHERE m.last_job_id IS DISTINCT FROM excluded.last_job_id OR m.last_row <= excluded.last_row
  RETURNING m.job_writes, m.xmax = 0 AS inserted, m.last_job_id IS DISTINCT FROM $3 AS stale`;

/** Every de-duplicated row through the upsert; a key returned still another job's was stale. */
const UPSERT_SQL = `WITH up AS (
  ${UPSERT_ROWS}
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted AND NOT stale AND job_writes = 1) AS updated,
       count(*) FILTER (WHERE stale) AS stale
FROM up`;

/**
 * Loads runs of match rows into `match_suggestions` and rejections into `import_job_errors` (`line` = row
 * index + 1). Runs are grouped into DB batches of about `dbBatchRows` rows; each is one transaction: COPY (text
 * format, written straight from the decoded values) into a temp table,
 * then one upsert keyed on (domain, group, participant, matched participant), last row wins. While one DB
 * batch is written the next one is gathered, so decoding and the database overlap and memory stays bounded.
 * A row whose ids or details hold a NUL character (which PostgreSQL text and jsonb cannot store) is
 * rejected with `NUL_CHARACTER`. Re-loading rows of the same job is idempotent.
 *
 * Every row carries the job's as-of (`opts.asOf`, else the job row's, else now).
 *
 * @returns the counts: for a job, inserted + updated + duplicates + failed + stale = rows read.
 * @throws DeadlineExceededError when `signal` aborts (the open DB batch is rolled back);
 *   DatabaseUnavailableError when the connection fails; errors of `rows` as they are.
 */
export async function loadMatches(
  pool: pg.Pool,
  job: JobRef,
  runs: AsyncIterable<MatchRowRun>,
  opts: LoadMatchesOptions,
): Promise<LoadCounts> {
  const { dbBatchRows, dbBatchBytes = DB_BATCH_BYTES, signal, batch, dryRun = false } = opts;
  if (!Number.isSafeInteger(dbBatchRows) || dbBatchRows < 1) {
    throw new RangeError(`dbBatchRows must be a positive integer, got ${dbBatchRows}`);
  }
  if (signal?.aborted) throw deadlineExceeded(job, signal.reason);
  const asOf = (opts.asOf ?? (await jobAsOf(pool, job.jobId))).toISOString();
  const counts: LoadCounts = { rows: 0, inserted: 0, updated: 0, duplicates: 0, failed: 0, stale: 0 };
  // New keys are copied straight into the table until one DB batch meets a stored key.
  let insertingNew = true;
  const insertNew = { failed: () => (insertingNew = false) };
  await writeInBatches(runs, job, {
    dbBatchRows,
    dbBatchBytes,
    signal,
    newBatch: () => new MatchDbBatch(job, asOf),
    sizeOf: (run) => run.size,
    write: async (full, rowOffset) => {
      const position = batch && { batch, rowOffset, rows: full.size };
      const written = await writeBatch(
        pool,
        job,
        full,
        signal,
        position,
        insertingNew ? insertNew : undefined,
        dryRun,
        asOf,
      );
      counts.rows += full.records;
      counts.failed += full.rejections.length;
      counts.inserted += written.inserted;
      counts.updated += written.updated;
      const stale = written.stale ?? 0;
      counts.stale += stale;
      counts.duplicates += full.records - written.inserted - written.updated - stale;
    },
  });
  return counts;
}

/** Bytes of a staged COPY block (a block is one chunk of the COPY stream). */
const BLOCK_BYTES = 256 * 1024;
/** Most UTF-8 bytes of one UTF-16 code unit. */
const MAX_UTF8_PER_UNIT = 3;

/**
 * The staged rows (COPY text, written straight into buffers) and rejections of one DB batch. Buffers rather
 * than strings: the rows wait for the database outside the JavaScript heap, which the garbage collector
 * would otherwise copy and scan again and again while a batch is gathered and written.
 */
class MatchDbBatch implements MatchRowVisitor {
  readonly #prefix: string;
  readonly #jobId: string;
  readonly #suffix: string;
  readonly #payload: Buffer[] = [];
  readonly rejections: RowRejection[] = [];
  records = 0;
  size = 0;
  bytes = 0;
  #block = Buffer.allocUnsafe(BLOCK_BYTES);
  #used = 0;

  constructor(job: JobRef, asOf: string) {
    this.#prefix = `${job.domainId}\t${copyText(job.groupId)}\t`;
    this.#suffix = `\t${asOf}\n`;
    this.#jobId = job.jobId;
  }

  add(run: MatchRowRun): void {
    this.size += run.size;
    run.visit(this);
  }

  valid(
    row: number,
    participantId: string,
    matchedParticipantId: string,
    compatibilityScore: number,
    rank: number | null,
    detailsJson: string,
  ): void {
    if (
      participantId.includes('\0') ||
      matchedParticipantId.includes('\0') ||
      detailsJson.includes('\\u0000')
    ) {
      this.rejections.push({
        line: row + 1,
        reference: participantId.replaceAll('\0', '\uFFFD'),
        code: NUL_CHARACTER,
        reason: 'the row contains a NUL character, which cannot be stored',
      });
      return;
    }
    this.#append(
      `${this.#prefix}${copyText(participantId)}\t${copyText(matchedParticipantId)}\t${compatibilityScore}\t${
        rank ?? '\\N'
      }\t${copyJson(detailsJson)}\t${this.#jobId}\t${row}${this.#suffix}`,
    );
    this.records += 1;
  }

  rejected(rejection: MatchRowRejection): void {
    this.rejections.push(rejection);
  }

  /** The COPY payload, blocks in row order. */
  blocks(): Buffer[] {
    this.#flush();
    return this.#payload;
  }

  #append(line: string): void {
    const most = line.length * MAX_UTF8_PER_UNIT;
    if (this.#used + most > this.#block.length) {
      this.#flush();
      if (most > this.#block.length) this.#block = Buffer.allocUnsafe(most);
    }
    const written = this.#block.write(line, this.#used);
    this.#used += written;
    this.bytes += written;
  }

  #flush(): void {
    if (this.#used === 0) return;
    this.#payload.push(this.#block.subarray(0, this.#used));
    this.#block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.#used = 0;
  }
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** JSON text as a field of COPY's text format: JSON holds no raw control characters, only backslashes. */
function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/** A value as a field of COPY's text format: backslash, newline, carriage return and tab escaped. */
function copyText(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c] ?? c) : value;
}

interface UpsertResult {
  inserted: string;
  updated: string;
  stale: string;
}

/** Writes one DB batch in one transaction on one checked-out client. */
function writeBatch(
  pool: pg.Pool,
  job: JobRef,
  batch: MatchDbBatch,
  signal: AbortSignal | undefined,
  position: DbBatchPosition | undefined,
  insertNew: { readonly failed: () => void } | undefined,
  dryRun: boolean,
  asOf: string,
): Promise<WrittenCounts> {
  return writeStagedBatch<UpsertResult, WrittenCounts>(pool, job, {
    begin: BEGIN_SQL,
    copy: COPY_SQL,
    payload: batch.blocks(),
    upsert: UPSERT_SQL,
    ...(insertNew
      ? {
          optimistic: {
            copy: COPY_NEW_SQL,
            written: { inserted: batch.records, updated: 0, stale: 0 },
            onConflict: insertNew.failed,
          },
        }
      : {}),
    params: [job.groupId, job.domainId, job.jobId, asOf],
    summarize: (row) => ({
      inserted: Number(row.inserted),
      updated: Number(row.updated),
      stale: Number(row.stale),
    }),
    nothingStaged: { inserted: 0, updated: 0, stale: 0 },
    rejections: batch.rejections,
    signal,
    position,
    ...(dryRun ? { dryRun: { stageTable: 'mb_match_stage' } } : {}),
  });
}
