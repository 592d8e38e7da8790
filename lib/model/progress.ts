import type { JobStatus } from './types.ts';

/** A job's progress counters as stored: advanced by each committed DB batch and each completed batch. */
export interface JobCounters {
  readonly status: JobStatus;
  /** Data rows the plan found (0 until planned). */
  readonly total: number;
  /** Rows of committed DB batches, failed rows included. */
  readonly rowsDone: number;
  /** Rows inserted or updated (what a finished job reports as processed). */
  readonly rowsWritten: number;
  readonly rowsFailed: number;
  readonly batchesDone: number;
  /** Batches the plan cut; null until planned (and for imports that run without a plan). */
  readonly batchesTotal: number | null;
  readonly startedAt: Date | null;
  /** When the counters last moved. */
  readonly progressAt: Date | null;
}

/** What a watcher is shown of a job's progress. */
export interface JobProgress {
  readonly rowsDone: number;
  readonly rowsWritten: number;
  readonly rowsFailed: number;
  readonly batchesDone: number;
  readonly batchesTotal: number | null;
  /** 0–100, one decimal: rows done of the total when known, else batches done of planned. */
  readonly percentage: number;
  /** Rows done per second since the job started, up to the last move of the counters. */
  readonly rowsPerSecond: number;
  /** Seconds left at that rate; null while there is no rate or no total; 0 once the job ended. */
  readonly etaSeconds: number | null;
}

const isFinal = (status: JobStatus) => status === 'COMPLETED' || status === 'FAILED';

/** Derives rate, percentage and time left from the stored counters. */
export function deriveProgress(counters: JobCounters): JobProgress {
  const {
    status,
    total,
    rowsDone,
    rowsWritten,
    rowsFailed,
    batchesDone,
    batchesTotal,
    startedAt,
    progressAt,
  } = counters;
  const final = isFinal(status);
  const elapsedMs = startedAt && progressAt ? progressAt.getTime() - startedAt.getTime() : 0;
  const rowsPerSecond = elapsedMs > 0 ? Math.round((rowsDone * 1000) / elapsedMs) : 0;
  let fraction = 0;
  if (status === 'COMPLETED') fraction = 1;
  else if (total > 0) fraction = rowsDone / total;
  else if (batchesTotal) fraction = batchesDone / batchesTotal;
  const percentage = Math.round(Math.min(1, fraction) * 1000) / 10;
  let etaSeconds: number | null = null;
  if (final) etaSeconds = 0;
  else if (rowsPerSecond > 0 && total > 0)
    etaSeconds = Math.ceil(Math.max(0, total - rowsDone) / rowsPerSecond);
  return {
    rowsDone,
    rowsWritten,
    rowsFailed,
    batchesDone,
    batchesTotal,
    percentage,
    rowsPerSecond,
    etaSeconds,
  };
}
