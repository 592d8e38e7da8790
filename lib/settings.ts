import type { z } from 'zod';

/**
 * Defaults and bounds of the settings that both the functions (lib/config.ts, from environment variables) and
 * a deploy (infra/config.ts, from CDK context) read: one table, so the value a deploy writes is always one the
 * function accepts and an omitted setting means the same thing on both sides.
 */

/**
 * Largest import request (Kafka value, bytes), one limit for both sides: the export splits username lists
 * under it and ingest refuses anything bigger. The smaller of what ingest accepts and MSK's default
 * message size (1 MiB), so a request the export sends is always one ingest takes.
 */
export const IMPORT_REQUEST_MAX_BYTES = 256 * 1024;

/** A Kafka topic name as brokers accept it. */
export const KAFKA_TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

/** A numeric setting: its default and the closed range a function accepts. */
export interface NumericSetting {
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** Takes fractions; otherwise a whole number. */
  readonly fractional?: true;
}

const MiB = 1024 * 1024;

export const NUMERIC_SETTINGS = {
  /**
   * Target size of one planned CSV byte range (one load-batch invocation). A function takes any size (tests
   * cut kilobyte ranges); a deploy takes at least 1 MiB (see {@link DEPLOY_MIN_SPLIT_BYTES}).
   */
  splitBytes: { default: 16 * MiB, min: 1, max: 1024 * MiB },
  /** Upper bound on planned batches: the batches and their results travel in the state, under 256 KiB. */
  maxBatches: { default: 400, min: 1, max: 600 },
  /** Rows per database transaction (COPY into a temp table + upsert) inside a batch. */
  dbBatchRows: { default: 20_000, min: 1, max: 1_000_000 },
  /** Target rows per batch of a match import: whole row groups are packed up to it. */
  matchBatchRows: { default: 250_000, min: 1, max: 100_000_000 },
  /** Entries of the success and failed lists carried inside the status message (full lists are in S3). */
  statusListCap: { default: 1000, min: 1, max: 100_000 },
  /** Percentage of failed rows that still lets a job end COMPLETED (0: every row must load). */
  toleratedFailurePercent: { default: 0, min: 0, max: 100, fractional: true },
  /** How long a started job id is remembered by the idempotency table (execution names last 90 days). */
  idempotencyTtlSeconds: { default: 24 * 60 * 60, min: 60, max: 90 * 24 * 60 * 60 },
  /** Largest import request value the export sends; a longer username list is split into several requests. */
  exportMessageMaxBytes: { default: IMPORT_REQUEST_MAX_BYTES, min: 1024, max: IMPORT_REQUEST_MAX_BYTES },
  /** Usernames (and removals) fetched from the database cursor at a time. */
  exportBatchRows: { default: 1000, min: 1, max: 100_000 },
  /**
   * Most users one export function writes: a cost-based group with more is cut into key ranges (by username),
   * each written by a function of its own into one file. 5M users take a few minutes at the measured rate,
   * well inside the function's 15 (docs/decisions.md); tests force a handful.
   */
  exportRowsPerFunction: { default: 5_000_000, min: 1, max: 100_000_000 },
} as const satisfies Record<string, NumericSetting>;

export type NumericSettingName = keyof typeof NUMERIC_SETTINGS;

/** A deploy's smallest byte range: smaller ranges only add invocations and state payload on AWS. */
export const DEPLOY_MIN_SPLIT_BYTES = MiB;

export const TEXT_SETTINGS = {
  /** Topics carrying node import requests. */
  nodeImportTopics: ['matchbridge-users'],
  /** Topics carrying match import requests (Parquet files). */
  matchImportTopics: ['matchbridge-matches'],
  /** Topics carrying erasure requests. */
  erasureTopics: ['matchbridge-erasures'],
  /** Topic of the status messages of node imports. */
  nodesStatusTopic: 'nodes-import-status',
  /** Topic of the status messages of match imports. */
  matchesStatusTopic: 'matches-import-status',
  /** Time zone of the export's schedule and of the date in its file names. */
  exportTimeZone: 'Asia/Kolkata',
} as const;

/** A number within a setting's bounds (`min` narrowed by a caller that needs more), whole unless fractional. */
export function withinBounds(
  name: NumericSettingName,
  number: z.ZodNumber,
  min: number = NUMERIC_SETTINGS[name].min,
): z.ZodNumber {
  const setting: NumericSetting = NUMERIC_SETTINGS[name];
  const bounded = number.min(min).max(setting.max);
  return setting.fractional ? bounded : bounded.int();
}

/**
 * How long Matchbridge keeps what it records, in days, read by the runtime configuration (`RETENTION_*`
 * variables) and the CDK configuration (`retention` context), so the prune function and the bucket's lifecycle
 * rules cannot disagree.
 */
export const RETENTION_DEFAULTS = Object.freeze({
  /** Finished import jobs (nodes, users) with their errors, batch records and status events; job reports. */
  importJobsDays: 90,
  /** Finished match import jobs, the same way. */
  matchJobsDays: 30,
  /** Finished export runs, the removal tombstones the export has sent, and the exported files. */
  exportRunsDays: 90,
  /** Replayed letters of the local dead-letter queue. */
  deadLettersDays: 30,
});

/** The longest retention any setting accepts (ten years). */
export const RETENTION_MAX_DAYS = 3650;

/** A retention setting's name. */
export type RetentionSetting = keyof typeof RETENTION_DEFAULTS;
