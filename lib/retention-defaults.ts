/**
 * How long Matchbridge keeps what it records, in days: the one place the defaults live, read by the runtime
 * configuration (`RETENTION_*` variables) and the CDK configuration (`retention` context), so the prune
 * function and the bucket's lifecycle rules cannot disagree.
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
