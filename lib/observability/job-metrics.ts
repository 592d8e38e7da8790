import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ImportKind, JobStatus } from '../model/types.ts';
import { metrics } from './logger.ts';

/**
 * The metrics the stack's alarms and dashboard read, named as in the seeds. Every metric goes to one
 * namespace with the `service` dimension Powertools adds; a finished job's duration also carries `kind`
 * and `status`, so success rate and "no job completed" are computed from it alone.
 */
export const METRICS_NAMESPACE = 'Matchbridge';
export const METRICS_SERVICE = 'matchbridge';

export const METRIC_NAMES = {
  /** A running job's rows done of its total (batches done of planned when the total is unknown), 0–100. */
  jobProgress: 'job_progress_percentage',
  /** Seconds from start to end of a job; one sample per finished job, dimensions `kind` and `status`. */
  jobDuration: 'import_job_duration_seconds',
  /** Failed storage (a batch or a whole job could not be written), by import kind. */
  matchStorageErrors: 'match_suggestions_storage_errors_total',
  nodeImportErrors: 'node_import_errors',
  /** Reference ids an erasure removed from its domain. */
  referencesErased: 'erasure_references_erased',
  /** Rows a prune deleted, one sample per run (a run stopped by its deadline counts what it deleted). */
  rowsPruned: 'retention_rows_pruned',
  /** Erasures that ended FAILED. */
  erasuresFailed: 'erasures_failed',
  /** Rows written. */
  nodesWritten: 'node_import_success',
  matchesWritten: 'match_suggestions_storage_matches_saved_total',
  /** Milliseconds one batch took. */
  nodeBatchDuration: 'node_import_batch_duration',
  matchBatchDuration: 'match_suggestions_storage_batch_duration',
  /** Groups whose daily export failed after its retries. */
  usersExportFailures: 'users_export_failures',
  /** Milliseconds from start to end of a match import, per finished job. */
  matchJobDuration: 'match_suggestions_storage_duration',
  /** Milliseconds from start to end of a node import, per finished job. */
  nodeJobDuration: 'node_import_total_duration',
  /** Node imports that finished COMPLETED. */
  nodeJobsCompleted: 'node_import_jobs_completed',
  /** Node imports that finished FAILED, or were failed by a step. */
  nodeJobsFailed: 'node_import_jobs_failed',
  /** Node rows that updated an existing node instead of inserting one. */
  nodeConflictUpdates: 'node_import_conflict_updates',
  /** Node rows rejected within a batch that was otherwise written. */
  nodeRowFailures: 'node_import_failures',
  /** Status messages that no destination took after their attempts and went to the dead-letter queue. */
  statusMessagesDeadLettered: 'status_messages_dead_lettered',
  /** Attempts to export a group that failed (the step's retries may still succeed). */
  usersExportBatchFailures: 'users_export_batch_failures',
  /** Milliseconds one group's export took. */
  usersExportDuration: 'users_export_duration',
  /** Users exported by a cost-based group. */
  usersExportCsvProcessed: 'users_export_csv_processed',
  /** Milliseconds one export batch took. */
  usersExportBatchDuration: 'users_export_batch_duration',
} as const;

/** Records a finished job: one `import_job_duration_seconds` sample with its kind and final status. */
export function recordJobFinished(kind: ImportKind, status: JobStatus, seconds: number): void {
  const single = metrics.singleMetric();
  single.addDimensions({ kind, status });
  single.addMetric(METRIC_NAMES.jobDuration, MetricUnit.Seconds, seconds);
}

/** Counts a storage error of a node import (a batch or job that could not be written). */
export function recordNodeStorageError(): void {
  metrics.addMetric(METRIC_NAMES.nodeImportErrors, MetricUnit.Count, 1);
}

/**
 * Records where a job stands after one of its batches completed: one `job_progress_percentage` sample with
 * its kind (the job id goes along as a property, not a dimension: one series per job would be unbounded).
 */
export function recordJobProgress(kind: ImportKind, jobId: string, percentage: number): void {
  const single = metrics.singleMetric();
  single.addDimensions({ kind });
  single.addMetadata('jobId', jobId);
  single.addMetric(METRIC_NAMES.jobProgress, MetricUnit.Percent, percentage);
}
