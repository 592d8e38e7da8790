/** Contracts between the stages of an import: state machine input, plan, batch and job results. */

/** What a job does: import nodes or matches, or erase references (a job like the imports). */
export type ImportKind = 'nodes' | 'matches' | 'erasure';
export type JobStatus = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';

/** Identifies a job everywhere: in logs, in the database and in every state payload. */
export interface JobRef {
  readonly jobId: string;
  readonly kind: ImportKind;
  readonly domainId: string;
  readonly groupId: string;
}

/** Where the data to import lives. `uri` is `s3://bucket/key`, or a local path in local mode. */
export interface ImportSource {
  readonly uri: string;
  readonly fileName?: string;
  readonly contentType?: string;
  /**
   * `references`: a list of reference ids that Matchbridge staged itself (a one-column CSV, from a request's
   * `referenceIds`); `file` (the default): a nodes CSV or CSV.gz as given; `removals`: no rows to load, the
   * job only removes (`uri` is then its staged removal list).
   */
  readonly kind?: 'file' | 'references' | 'removals';
}

/** A staged list of reference ids whose nodes leave the group (a request's `removeReferenceIds`). */
export interface StagedRemovals {
  /** A one-column CSV (`reference_id`), staged like a reference list. */
  readonly uri: string;
  /** Ids in the list, when known (a job resumed from its row does not know it). */
  readonly count?: number;
}

/** Input of the import state machine (one execution per job, named by `jobId`). */
export interface ImportExecutionInput extends JobRef {
  readonly source: ImportSource;
  /** Where the request came from, for the job row: `kafka:<topic>/<partition>/<offset>`, `cli`, `s3`… */
  readonly origin: string;
  /** Nodes to remove from the group before the source loads. */
  readonly removals?: StagedRemovals;
  /** Run the whole job (plan, batches, validators, reports) and write nothing to the target tables. */
  readonly dryRun?: boolean;
  /** Fail the job, cancelling its remaining batches, once more rows than this failed. */
  readonly maxFailedRows?: number;
  /**
   * The time of the data (ISO): a row is not written over data of a newer as-of (it is counted `stale`).
   * Default: the source's last-modified time, else the time of the first plan.
   */
  readonly asOf?: string;
}

/**
 * The version of a source object a plan read, which every later read of the job must see again: S3's ETag
 * (and VersionId in a versioned bucket), or a local file's size and modification time. A read that finds
 * another version fails with `SOURCE_CHANGED` rather than mix two files in one job.
 */
export interface SourcePin {
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
  /** Last modification time (ISO), compared for local files, which have no ETag. */
  readonly modifiedAt?: string;
}

/**
 * Input of the erasure state machine: the ids to erase are staged as a reference list (`source`); `groupId`
 * is the one group erased, or `*` with `everyGroup` for every group of the domain.
 */
export interface ErasureExecutionInput extends ImportExecutionInput {
  readonly kind: 'erasure';
  readonly everyGroup: boolean;
}

/** Which batch of a job, and the work it covers (its byte range or rows). */
export interface BatchIdentity {
  readonly index: number;
  readonly key: string;
}

/** One unit of load work: a byte range `[start, end)` of a CSV object that begins on a record boundary. */
export interface CsvBatch {
  readonly index: number;
  readonly uri: string;
  readonly start: number;
  readonly end: number;
  /** Physical line number (1-based, header = line 1) of the first record in the range. */
  readonly firstLine: number;
  /** Records in the range, counted by the planner. */
  readonly records: number;
}

/** What the plan step returns (kept small: it travels in the state payload). */
export interface CsvPlan {
  /** Normalised header names, in file order. */
  readonly header: readonly string[];
  readonly referenceColumn: number;
  readonly total: number;
  readonly batches: readonly CsvBatch[];
}

/** What the plan step returns: the CSV plan and the rows per database transaction for its batches. */
export interface ImportPlan extends CsvPlan {
  readonly dbBatchRows: number;
  /**
   * The version of the source every batch must read; null when the batches read parts the plan staged
   * (a .csv.gz, read once under this pin while planning).
   */
  readonly pin: SourcePin | null;
  /** The job is a dry run: its batches roll their target writes back. */
  readonly dryRun: boolean;
}

/** A row that could not be loaded. `line` is the physical line where its record starts. */
export interface RowRejection {
  readonly line: number;
  readonly reference: string | null;
  readonly reason: string;
  readonly code: string;
}

/**
 * What one node or match load (`loadNodes`, `loadMatches`) saw and did. For a job, inserted + updated +
 * duplicates + failed + stale = data rows.
 */
export interface LoadCounts {
  /** Valid rows seen (duplicates included). */
  rows: number;
  /** Rows created. */
  inserted: number;
  /** Existing rows (from earlier jobs) written by this job for the first time. */
  updated: number;
  /** Rows whose reference this job wrote (or will write) from another line: counted once, last line wins. */
  duplicates: number;
  /** Rejected rows, recorded in `import_job_errors`. */
  failed: number;
  /** Rows not written: their node (or pair) holds data of a newer as-of, from another job. */
  stale: number;
}

/** What a batch returns to the Map state (kept tiny: it travels in the state payload). */
export interface BatchResult {
  readonly index: number;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly rows: number;
  readonly inserted: number;
  readonly updated: number;
  readonly duplicates: number;
  readonly failed: number;
  /** Rows older than the data their target holds (absent in results from before as-of: none). */
  readonly stale?: number;
  /** Name of the error, when the whole batch failed after its retries (from the Map's Catch). */
  readonly error?: string;
}

/** The status message of the design (Kafka value, `--json` output). */
export interface JobStatusMessage {
  readonly jobId: string;
  readonly kind: ImportKind;
  readonly groupId: string;
  readonly domainId: string;
  readonly status: 'COMPLETED' | 'FAILED';
  readonly processed: number;
  readonly total: number;
  readonly successList: readonly string[];
  readonly failedList: readonly string[];
  readonly successListUri?: string;
  readonly failedListUri?: string;
  readonly failureReason?: string;
  /** Nodes the job removed from the group (`removeReferenceIds`); present only when the request had removals. */
  readonly removed?: number;
  /** Node and match imports: rows not written because their node (or pair) holds data of a newer as-of. */
  readonly stale?: number;
  /** Present on a dry run only: nothing was written, the counts are those a real run would have. */
  readonly dryRun?: true;
  readonly counts?: DryRunCounts;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** What a dry run found: the rows a real run would create, update, count as duplicates, fail or skip as stale. */
export interface DryRunCounts {
  readonly new: number;
  readonly updated: number;
  readonly duplicates: number;
  readonly failed: number;
  /** Rows a real run would skip for their as-of (see `JobStatusMessage.stale`). */
  readonly stale?: number;
}
