import assert from 'node:assert/strict';
import { type ExtractedStateMachine, extractStateMachines } from '../../../infra/definitions.ts';
import type { Synthesized } from './synth.ts';

/** A state of a synthesized state machine, with the fields the tests read. */
export interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Retry?: unknown[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string; Next: string }[];
  ResultPath?: string | null;
  TimeoutSeconds?: number;
  Parameters?: Record<string, unknown>;
  ItemsPath?: string;
  ItemSelector?: Record<string, unknown>;
  MaxConcurrency?: number;
  ItemProcessor?: {
    ProcessorConfig?: Record<string, unknown>;
    StartAt: string;
    States: Record<string, State>;
  };
  ErrorPath?: string;
  CausePath?: string;
  /** Any other field, for a test that a state leaves one out. */
  [field: string]: unknown;
}

/** An MSK cluster, for a synth that maps Kafka topics onto ingest. */
export const CLUSTER_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:cluster/matchbridge/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1';

/** One state machine of a synthesized pipeline, and a lookup of its states. */
export interface MachineStates {
  readonly machine: ExtractedStateMachine;
  readonly definition: { StartAt: string; States: Record<string, State>; TimeoutSeconds?: number };
  /** The state `name`, at the top level or inside the map `mapState`'s item processor; asserts it exists. */
  state(name: string): State;
}

/** The state machine `key` (`import`, `match-import`, `erasure`…) of the app's pipeline stack, its batches in `mapState`. */
export function machineStates(built: Synthesized, key: string, mapState: string): MachineStates {
  const machines = extractStateMachines({ [built.stacks.pipeline.stackName]: built.pipeline.toJSON() });
  const machine = machines[key];
  if (machine === undefined) throw new Error(`the pipeline stack has no ${key} state machine`);
  const definition = machine.definition as unknown as MachineStates['definition'];
  return {
    machine,
    definition,
    state(name) {
      const found = definition.States[name] ?? definition.States[mapState]?.ItemProcessor?.States[name];
      assert.ok(found, `state ${name} exists`);
      return found;
    },
  };
}
