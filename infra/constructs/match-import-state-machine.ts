import { CONFIG_ENV } from '../../lib/config.ts';
import type { ImportWorkflow } from './import-state-machine.ts';

/** State names of the match import state machine: a contract with the local runner and the tests. */
export const MATCH_IMPORT_STATE_NAMES = {
  plan: 'PlanMatches',
  loadBatches: 'LoadMatchBatches',
  loadBatch: 'LoadMatchBatch',
  batchFailed: 'MatchBatchFailed',
  finalize: 'Finalize',
  failJob: 'FailJob',
  jobFailed: 'JobFailed',
} as const;

/** Value of the `matchbridge:state-machine` metadata on the match import state machine. */
export const MATCH_IMPORT_STATE_MACHINE_NAME = 'match-import';

/**
 * The match import: whole Parquet row groups, each batch told the file and the columns the plan checked.
 *
 * A workflow of its own rather than a `$.kind` Choice inside the node import machine: the two plans and batch
 * items have different shapes (byte ranges with a header vs. row groups with columns), so a shared machine
 * would need a Choice before every kind-specific state and a Map per kind anyway; separate machines keep
 * each definition linear, let the Parquet functions have their own memory and timeout, and show each kind's
 * executions, failures and alarms apart. Finalize and FailJob are shared: they dispatch on `kind`.
 */
export const MATCH_IMPORT_WORKFLOW: ImportWorkflow = {
  machineName: MATCH_IMPORT_STATE_MACHINE_NAME,
  names: MATCH_IMPORT_STATE_NAMES,
  batchFields: { uri: '$.source.uri', columns: '$.plan.columns', pin: '$.plan.pin' },
  arnVariable: CONFIG_ENV.matchImportStateMachineArn,
};
