import { CONFIG_ENV } from '../../lib/config.ts';
import type { ImportWorkflow } from './import-state-machine.ts';

/** State names of the erasure state machine: a contract with the local runner and the tests. */
export const ERASURE_STATE_NAMES = {
  plan: 'PlanErasure',
  loadBatches: 'EraseBatches',
  loadBatch: 'EraseBatch',
  batchFailed: 'EraseBatchFailed',
  finalize: 'FinalizeErasure',
  failJob: 'FailErasure',
  jobFailed: 'ErasureFailed',
} as const;

/** Value of the `matchbridge:state-machine` metadata on the erasure state machine. */
export const ERASURE_STATE_MACHINE_NAME = 'erasure';

/**
 * An erasure, one execution per job, in the import workflow's shape and policies (retries, Catch → fail
 * step, a failed batch a FAILED result): PlanErasure cuts the staged id list into byte ranges, EraseBatches
 * runs EraseBatch over them (a Distributed Map), FinalizeErasure cleans objects, closes the erasure record
 * and publishes the status. Each batch is told the list's header and whether every group of the domain is
 * erased. Its finalize and catch-all are one function of its own: both end the erasure record and forget the
 * working list of ids, which the import's shared finalize and FailJob know nothing of.
 */
export const ERASURE_WORKFLOW: ImportWorkflow = {
  machineName: ERASURE_STATE_MACHINE_NAME,
  names: ERASURE_STATE_NAMES,
  batchFields: {
    header: '$.plan.header',
    referenceColumn: '$.plan.referenceColumn',
    everyGroup: '$.everyGroup',
  },
  arnVariable: CONFIG_ENV.erasureStateMachineArn,
};
