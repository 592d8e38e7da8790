/** The `matchbridge:state-machine` name of the export state machine (`infra/constructs/user-export.ts`). */
export const USER_EXPORT_STATE_MACHINE_NAME = 'user-export';

/** One group the export run covers, as the plan found it. */
export interface ExportGroupRef {
  readonly domainId: string;
  readonly groupId: string;
  /** Cost-based groups get a CSV.gz file; the others a list of usernames in the message. */
  readonly costBased: boolean;
  /** The group's export topic, or null for the configured default. */
  readonly topic: string | null;
  /** Users changed after this instant (ISO) are exported; null: every ready user (a full export). */
  readonly since: string | null;
}

/** Input of an export run: the schedule's (`{trigger, full, scheduledTime}`) or the command line's. */
export interface ExportRequest {
  /** Export every ready user, not only those changed since the group's last successful export. */
  readonly full?: boolean;
  /** Only this group (in every domain that has it, or in `domainId`). */
  readonly groupId?: string;
  readonly domainId?: string;
  /** Who started the run: `schedule`, `cli`… */
  readonly trigger?: string;
  /** The time the schedule fired (ISO); names the files' date. */
  readonly scheduledTime?: string;
}

/** What the plan step is invoked with: the run's input and its execution. */
export interface ExportPlanInput {
  readonly request: ExportRequest;
  readonly executionId: string;
  readonly startTime: string;
}

/** The plan of a run: its id, the files' date and the groups to export. */
export interface ExportPlan {
  readonly runId: string;
  readonly full: boolean;
  readonly trigger: string;
  /** `YYYY-MM-DD` in the export time zone: the date in the files' names. */
  readonly date: string;
  readonly groups: readonly ExportGroupRef[];
}

/** Input of one Map iteration: the run and one group. */
export interface ExportGroupInput {
  readonly runId: string;
  readonly full: boolean;
  readonly trigger: string;
  readonly date: string;
  readonly group: ExportGroupRef;
}

/** Input of the failure step of a group: the iteration's input and the error caught. */
export interface ExportGroupFailedInput extends ExportGroupInput {
  readonly error: { readonly Error?: string; readonly Cause?: string };
}

/** What one group's export did. */
export interface ExportGroupResult {
  readonly domainId: string;
  readonly groupId: string;
  readonly costBased: boolean;
  readonly status: 'COMPLETED' | 'FAILED';
  /** Users written to the file, or usernames sent. */
  readonly exported: number;
  /** The CSV.gz written (`s3://…` or a local path); null for a non-cost-based group or nothing to export. */
  readonly file: string | null;
  /** Import requests sent. */
  readonly messages: number;
  /** Members that left the export since its last run, sent as `removedUsernames` (absent on failure). */
  readonly removed?: number;
  readonly error?: string;
}

/** Input of the summary step. */
export interface ExportSummaryInput {
  readonly runId: string;
  readonly full: boolean;
  readonly date: string;
  readonly results: readonly ExportGroupResult[];
}

/** The run's outcome: the state machine's output and the command line's `--json`. */
export interface ExportSummary {
  readonly runId: string;
  readonly full: boolean;
  readonly date: string;
  readonly exported: number;
  readonly failed: number;
  readonly groups: readonly ExportGroupResult[];
}
