/**
 * Domain errors. Step Functions `Retry`/`Catch` match on `error.name`, so every class keeps its own name,
 * and transient failures are distinct classes from permanent ones. `code` is stable and machine-readable;
 * `expose` says whether the message is safe to show to a caller.
 */
export abstract class MatchbridgeError extends Error {
  abstract readonly code: string;
  /**
   * Whether the message is safe to show to a caller. Opt-in: only errors the caller caused (its request, its
   * file, its job id) set it; any other message may name hosts, connection strings or internal paths.
   */
  readonly expose: boolean = false;
  /** True when retrying the same work later may succeed. */
  readonly transient: boolean = false;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The import request (Kafka message, S3 key, CLI arguments) is malformed. Never retried. */
export class InvalidRequestError extends MatchbridgeError {
  readonly code: string;
  override readonly expose = true;
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message, details);
    this.code = code;
  }
}

/** The file cannot be imported as a whole: missing, truncated, not CSV, no reference column… Never retried. */
export class InvalidFileError extends MatchbridgeError {
  readonly code: string;
  override readonly expose = true;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, details, options);
    this.code = code;
  }
}

/**
 * The source object changed after the plan read it (re-uploaded, overwritten by a later export): the job's
 * batches would load a mix of two files, so it fails instead. Never retried: the new file is a new job.
 */
export class SourceChangedError extends MatchbridgeError {
  readonly code = 'SOURCE_CHANGED';
  override readonly expose = true;
}

/**
 * A job's failed rows passed its failure budget (the tolerated percentage of its rows, or its
 * `maxFailedRows`): it can no longer complete, so its remaining batches stop. Never retried.
 */
export class FailureBudgetExceededError extends MatchbridgeError {
  readonly code = 'FAILURE_BUDGET_EXCEEDED';
  override readonly expose = true;
}

/** The database could not be reached or dropped the connection; the same work may succeed on retry. */
export class DatabaseUnavailableError extends MatchbridgeError {
  readonly code = 'DATABASE_UNAVAILABLE';
  override readonly transient = true;
}

/** The object store (S3 or the local folder) failed in a way that may pass on retry. */
export class StorageUnavailableError extends MatchbridgeError {
  readonly code = 'STORAGE_UNAVAILABLE';
  override readonly transient = true;
}

/** The work ran out of its time budget (Lambda deadline or abort) and stopped cleanly, rolled back. */
export class DeadlineExceededError extends MatchbridgeError {
  readonly code = 'DEADLINE_EXCEEDED';
  override readonly transient = true;
}

/**
 * A status message could neither be delivered nor dead-lettered. The job is final and the message recorded
 * as FAILED in `job_status_events`; retrying the step publishes it again.
 */
export class StatusDeliveryError extends MatchbridgeError {
  readonly code = 'STATUS_UNDELIVERABLE';
  override readonly transient = true;
}

/** No job with that id (in that domain). */
export class JobNotFoundError extends MatchbridgeError {
  readonly code = 'JOB_NOT_FOUND';
  override readonly expose = true;
}

/** Invalid configuration: raised at cold start or synth time, before any work. */
export class ConfigurationError extends MatchbridgeError {
  readonly code = 'INVALID_CONFIGURATION';
}

/**
 * A job's row counts break the accounting rule (every row read counts once: succeeded, failed or a duplicate).
 * A bug, never the file's fault: the job fails with it rather than report a row that vanished. Never retried.
 */
export class RowAccountingError extends MatchbridgeError {
  readonly code = 'ROW_COUNT_MISMATCH';
}

/**
 * Kafka did not take a message after its attempts (already retried with backoff where it was sent, so the
 * state machines do not retry it again); sending it later may succeed.
 */
export class MessagingUnavailableError extends MatchbridgeError {
  readonly code = 'MESSAGING_UNAVAILABLE';
  override readonly transient = true;
}

/**
 * True when retrying the same work later may succeed: the one test of "transient" for every place that chooses
 * between retrying (rethrow to the state machine, Lambda's async retries, a 503) and failing for good.
 */
export function isTransient(error: unknown): boolean {
  return error instanceof MatchbridgeError && error.transient;
}

/** Names of the errors a state machine should retry (Step Functions `ErrorEquals`). */
export const TRANSIENT_ERROR_NAMES = [
  DatabaseUnavailableError.name,
  StorageUnavailableError.name,
  DeadlineExceededError.name,
  StatusDeliveryError.name,
] as const;

/**
 * A request to the bulk HTTP API that is refused: `status` is the HTTP status, `code` stable. The message
 * is safe to show to the caller.
 */
export class ApiRequestError extends MatchbridgeError {
  readonly code: string;
  readonly status: number;
  override readonly expose = true;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message, details);
    this.status = status;
    this.code = code;
  }
}

/** What the caller of a job may learn of why it failed: a stable code, and the message when safe to show. */
export interface JobFailure {
  readonly code: string;
  readonly message?: string;
}

/** The {@link JobFailure} of the error that ended a job: an exposed error's message, any other's code only. */
export function jobFailureOf(error: unknown): JobFailure {
  if (!(error instanceof MatchbridgeError)) return { code: 'INTERNAL_ERROR' };
  return error.expose ? { code: error.code, message: error.message } : { code: error.code };
}

/** Codes of the exposed errors by name: a state machine's catch passes on an error's name and message only. */
const EXPOSED_BY_NAME: Readonly<Record<string, string>> = {
  [InvalidFileError.name]: 'INVALID_FILE',
  [InvalidRequestError.name]: 'INVALID_REQUEST',
  [SourceChangedError.name]: 'SOURCE_CHANGED',
  [FailureBudgetExceededError.name]: 'FAILURE_BUDGET_EXCEEDED',
};

/** The {@link JobFailure} of an error a state machine caught, known by its `name` and `message` only. */
export function jobFailureOfStep(name: string, message: string): JobFailure {
  const code = EXPOSED_BY_NAME[name];
  return code ? { code, message } : { code: 'JOB_FAILED' };
}
