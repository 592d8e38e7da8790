import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type pg from 'pg';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logger, metrics } from '../observability/logger.ts';
import { exportRunKey } from './export-group.ts';
import { failExportRun } from './export-repository.ts';
import type {
  ExportGroupFailedInput,
  ExportGroupResult,
  ExportSummary,
  ExportSummaryInput,
} from './types.ts';

/** Longest error text kept in a run record. */
const MAX_ERROR_LENGTH = 2000;

/** The error a Catch handed over, as one line: `Name: message` (a Lambda error's Cause is its JSON). */
export function describeCaught(error: ExportGroupFailedInput['error']): string {
  const name = error.Error ?? 'Error';
  let message = error.Cause ?? '';
  try {
    const cause = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
  } catch {
    // A plain-text cause is kept as it is.
  }
  return `${name}: ${message}`.slice(0, MAX_ERROR_LENGTH);
}

/**
 * The Catch of a group's export, after its retries: records the group FAILED in the run with the error,
 * counts `users_export_failures`, and returns the group's FAILED result, so that the other groups go on.
 */
export async function recordGroupFailure(
  deps: { readonly pool: pg.Pool },
  input: ExportGroupFailedInput,
): Promise<ExportGroupResult> {
  const error = describeCaught(input.error);
  await failExportRun(deps.pool, exportRunKey(input), error);
  metrics.addMetric(METRIC_NAMES.usersExportFailures, MetricUnit.Count, 1);
  logger.error('group export failed', {
    runId: input.runId,
    groupId: input.group.groupId,
    domainId: input.group.domainId,
    error,
  });
  return {
    domainId: input.group.domainId,
    groupId: input.group.groupId,
    costBased: input.group.costBased,
    status: 'FAILED',
    exported: 0,
    file: null,
    messages: 0,
    error,
  };
}

/** The last step: the run's totals beside each group's result. */
export function summarizeExport(input: ExportSummaryInput): ExportSummary {
  const failed = input.results.filter((r) => r.status === 'FAILED').length;
  const exported = input.results.reduce((sum, r) => sum + r.exported, 0);
  const summary = {
    runId: input.runId,
    full: input.full,
    date: input.date,
    exported,
    failed,
    groups: input.results,
  };
  const log = failed > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('user export run finished', { runId: input.runId, groups: input.results.length, exported, failed });
  return summary;
}
