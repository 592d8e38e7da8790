import { resolve } from 'node:path';
import { config } from '../config.ts';
import { jobFailureOfStep } from '../errors.ts';
import { failJob } from '../jobs/job-repository.ts';
import { getLatestStatusEvent } from '../jobs/status-event-repository.ts';
import { buildStatusMessage, canonicalStatusMessage } from '../jobs/status-message.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../model/types.ts';
import { logJob } from '../observability/logger.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { runLocalExecution, type SynthesizedMachine, type TaskObserver } from './local-runner.ts';
import { cachedBySynthesis } from './machine-cache.ts';

let machines: Promise<Record<string, SynthesizedMachine>> | undefined;

/**
 * The state machines of the synthesized app (the same `cdk synth` output the stack deploys). Synthesis takes
 * seconds, so its result is cached under the local home folder, keyed by a fingerprint of its inputs.
 */
export function synthesizedMachines(): Promise<Record<string, SynthesizedMachine>> {
  machines ??= cachedBySynthesis(resolve(config().localHome, 'cache'), async () => {
    // Loaded only on a cache miss: the CDK library alone takes seconds to import.
    const { extractStateMachines, synthesizeTemplates } = await import('../../infra/definitions.ts');
    return extractStateMachines(synthesizeTemplates());
  });
  return machines;
}

async function machine(name: string): Promise<SynthesizedMachine> {
  const found = (await synthesizedMachines())[name];
  if (!found) throw new Error(`the synthesized app has no '${name}' state machine`);
  return found;
}

/**
 * The synthesized state machine of each kind of import, by its `matchbridge:state-machine` name (see
 * `infra/constructs/import-state-machine.ts`, `match-import-state-machine.ts` and `erasure-state-machine.ts`).
 */
const MACHINE_BY_KIND: Readonly<Record<ImportExecutionInput['kind'], string>> = {
  nodes: 'import',
  matches: 'match-import',
  erasure: 'erasure',
};

/**
 * Runs one import job through the synthesized state machine of its kind (`input.kind`) and returns its
 * status message.
 * If the execution itself failed without the job reaching a final state (its catch-all failed too), the
 * job is marked FAILED here, as the state-machine failure rule does on AWS: no job stays PROCESSING.
 */
export async function runImportLocally(
  input: ImportExecutionInput,
  options: { observe?: TaskObserver } = {},
): Promise<JobStatusMessage> {
  const outcome = await runLocalExecution(await machine(MACHINE_BY_KIND[input.kind]), input, {
    executionName: input.jobId,
    ...(options.observe ? { observe: options.observe } : {}),
  });
  const { pool } = await runtimeDeps();
  const recorded = await getLatestStatusEvent(pool, input.jobId);
  if (recorded) return canonicalStatusMessage(recorded);
  const reason =
    outcome.status === 'FAILED'
      ? `execution failed: ${outcome.error}: ${outcome.cause}`
      : 'execution ended without a status message';
  logJob(input).error('import execution ended without a final job state', { reason });
  const failure =
    outcome.status === 'FAILED' ? jobFailureOfStep(outcome.error, outcome.cause) : { code: 'JOB_FAILED' };
  const job = await failJob(pool, input.jobId, reason, failure, input);
  return buildStatusMessage(job, { successList: [], failedList: [] });
}
