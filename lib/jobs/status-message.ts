import { z } from 'zod';
import type { DryRunCounts, ImportKind, JobStatusMessage } from '../model/types.ts';

/**
 * The status message contract (DESIGN.md, "Status message") as a schema, for consumers and tests: exactly
 * these fields, the lists of strings, the counts non-negative integers, the times ISO 8601 with an offset.
 */
export const JobStatusMessageSchema = z.strictObject({
  jobId: z.uuid(),
  kind: z.enum(['nodes', 'matches', 'erasure']),
  groupId: z.string().min(1).max(255),
  domainId: z.uuid(),
  status: z.enum(['COMPLETED', 'FAILED']),
  processed: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  successList: z.array(z.string()),
  failedList: z.array(z.string()),
  successListUri: z.string().min(1).optional(),
  failedListUri: z.string().min(1).optional(),
  failureReason: z.string().min(1).optional(),
  removed: z.number().int().nonnegative().optional(),
  stale: z.number().int().nonnegative().optional(),
  dryRun: z.literal(true).optional(),
  counts: z
    .strictObject({
      new: z.number().int().nonnegative(),
      updated: z.number().int().nonnegative(),
      duplicates: z.number().int().nonnegative(),
      failed: z.number().int().nonnegative(),
      stale: z.number().int().nonnegative().optional(),
    })
    .optional(),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
}) satisfies z.ZodType<JobStatusMessage>;

/** The final state of a job as the status message reports it. */
export interface FinalJobState {
  readonly jobId: string;
  readonly kind: ImportKind;
  readonly domainId: string;
  readonly groupId: string;
  readonly status: 'COMPLETED' | 'FAILED';
  readonly processed: number;
  readonly total: number;
  readonly failureReason?: string | null;
  readonly dryRun?: boolean;
  /** Rows not written for their as-of (node and match imports). */
  readonly staleCount?: number;
  readonly startedAt: Date | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

/** Reports of a job: the first entries of each list (capped) and where the complete lists are. */
export interface JobReports {
  readonly successList: readonly string[];
  readonly failedList: readonly string[];
  readonly successListUri?: string;
  readonly failedListUri?: string;
  /** Nodes removed by the job's `removeReferenceIds`, when it had any. */
  readonly removed?: number;
  /** What a dry run found (reported on dry runs only). */
  readonly counts?: DryRunCounts;
}

/** Builds the status message of the design from a final job and its reports. */
export function buildStatusMessage(job: FinalJobState, reports: JobReports): JobStatusMessage {
  return canonicalStatusMessage({
    ...reports,
    jobId: job.jobId,
    kind: job.kind,
    groupId: job.groupId,
    domainId: job.domainId,
    status: job.status,
    processed: job.processed,
    total: job.total,
    ...(job.failureReason ? { failureReason: job.failureReason } : {}),
    // Imports count rows skipped for their as-of; an erasure writes no rows.
    ...(job.kind !== 'erasure' ? { stale: job.staleCount ?? 0 } : {}),
    ...(job.dryRun ? { dryRun: true as const } : {}),
    ...(job.dryRun && reports.counts ? { counts: reports.counts } : {}),
    startedAt: (job.startedAt ?? job.createdAt).toISOString(),
    finishedAt: (job.finishedAt ?? new Date()).toISOString(),
  });
}

/** The message with its fields in the contract's order (a jsonb round trip reorders keys). */
export function canonicalStatusMessage(m: JobStatusMessage): JobStatusMessage {
  return {
    jobId: m.jobId,
    kind: m.kind,
    groupId: m.groupId,
    domainId: m.domainId,
    status: m.status,
    processed: m.processed,
    total: m.total,
    successList: m.successList,
    failedList: m.failedList,
    ...(m.successListUri ? { successListUri: m.successListUri } : {}),
    ...(m.failedListUri ? { failedListUri: m.failedListUri } : {}),
    ...(m.failureReason ? { failureReason: m.failureReason } : {}),
    ...(m.removed !== undefined ? { removed: m.removed } : {}),
    ...(m.stale !== undefined ? { stale: m.stale } : {}),
    ...(m.dryRun ? { dryRun: m.dryRun } : {}),
    ...(m.dryRun && m.counts ? { counts: m.counts } : {}),
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
  };
}
