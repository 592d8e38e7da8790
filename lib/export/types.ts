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

/** One key range of a group too large for one function: its place in the file and its usernames. */
export interface ExportRangeRef {
  readonly index: number;
  /** Usernames after this one (exclusive); null: from the first. */
  readonly after: string | null;
  /** Usernames up to this one (inclusive); null: to the last. */
  readonly through: string | null;
}

/** What the group step hands on when the group is cut into ranges: the run record and the ranges. */
export interface ExportGroupSplit {
  /** The group's `export_jobs` row. */
  readonly runRecordId: string;
  /** When the group's export started (epoch ms): its duration is counted from there. */
  readonly startedAt: number;
  /** The instant the ranges were cut (ISO): every range reads later, so it is the group's new watermark. */
  readonly readAt: string;
  /** The run's time, sent as the `asOf` of every request of the group (see `exportGroup`). */
  readonly asOf: string;
  readonly users: number;
  readonly ranges: readonly ExportRangeRef[];
}

/** Input of one range's export (an iteration of the ranges' Map). */
export interface ExportRangeInput extends ExportGroupInput {
  readonly range: ExportRangeRef;
}

/** What one range's export wrote: its part of the file (null: no user left in the range). */
export interface ExportRangeResult {
  readonly index: number;
  readonly rows: number;
  readonly part: string | null;
}

/** Input of the last step of a group cut into ranges: the split and every range's result. */
export interface FinishGroupInput extends ExportGroupInput {
  readonly split: ExportGroupSplit;
  readonly parts: readonly ExportRangeResult[];
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

/** What the group step returns: the group's result, or its ranges for the ranges' Map. */
export type ExportGroupOutcome = ExportGroupResult | { readonly split: ExportGroupSplit };

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
