import type pg from 'pg';
import type { Config } from '../config.ts';
import { deterministicJobId } from '../model/job-id.ts';
import { logger } from '../observability/logger.ts';
import { dateIn } from './export-file.ts';
import { listExportableGroups } from './export-repository.ts';
import type { ExportPlan, ExportPlanInput } from './types.ts';

/**
 * The first step of an export run: its id, the files' date (the scheduled time, else the execution's start, in the export time zone) and the
 * groups with export enabled. An incremental run exports each group's users changed since its last
 * successful export, less `EXPORT_INCREMENTAL_OVERLAP_SECONDS` for writes that committed late; a group never
 * exported, or a full run, exports everyone.
 *
 * The id comes from the scheduled time when the scheduler started the run, so a delivery of the same
 * schedule firing twice (EventBridge Scheduler delivers at least once) is the same run, and its groups that
 * run already recorded are not exported again; otherwise from the execution, so a retried step plans the
 * same run.
 */
export async function planExport(
  deps: { readonly config: Config; readonly pool: pg.Pool },
  input: ExportPlanInput,
): Promise<ExportPlan> {
  const { request } = input;
  const full = request.full === true;
  const scope = { groupId: request.groupId, domainId: request.domainId, full };
  const runId = deterministicJobId(
    request.scheduledTime
      ? `user-export:scheduled:${request.scheduledTime}:${JSON.stringify(scope)}`
      : `user-export:${input.executionId}`,
  );
  const rows = await listExportableGroups(deps.pool, {
    ...(request.groupId ? { groupId: request.groupId } : {}),
    ...(request.domainId ? { domainId: request.domainId } : {}),
    ...(request.scheduledTime ? { notInRun: runId } : {}),
  });
  const overlapMs = deps.config.exportOverlapSeconds * 1000;
  const plan: ExportPlan = {
    runId,
    full,
    trigger: request.trigger ?? 'schedule',
    date: dateIn(new Date(request.scheduledTime ?? input.startTime), deps.config.exportTimeZone),
    groups: rows.map((row) => ({
      domainId: row.domainId,
      groupId: row.groupId,
      costBased: row.costBased,
      topic: row.exportTopic,
      since:
        full || row.lastExportedAt === null
          ? null
          : new Date(row.lastExportedAt.getTime() - overlapMs).toISOString(),
    })),
  };
  logger.info('planned user export', {
    runId: plan.runId,
    full,
    groups: plan.groups.length,
    date: plan.date,
  });
  return plan;
}
