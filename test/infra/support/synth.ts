import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type MatchbridgeApp } from '../../../infra/build-app.ts';
import { type ExtractedStateMachine, extractStateMachines } from '../../../infra/definitions.ts';

/** An in-process synth (no bundling, no validation) of the whole app, as templates to assert on. */
export interface Synthesized extends MatchbridgeApp {
  readonly data: Template;
  readonly pipeline: Template;
  /** The import state machine as the local runner gets it. */
  readonly importMachine: ExtractedStateMachine;
}

const outdirs: string[] = [];
process.once('exit', () => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Builds the app with `context` on top of cdk.json and synthesizes both stacks. */
export function synth(context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'matchbridge-infra-test-'));
  outdirs.push(outdir);
  const built = buildApp({ context, skipBundling: true, validation: false, outdir });
  const pipeline = Template.fromStack(built.stacks.pipeline);
  const machines = extractStateMachines({ [built.stacks.pipeline.stackName]: pipeline.toJSON() });
  const importMachine = machines.import;
  if (importMachine === undefined) throw new Error('the pipeline stack has no import state machine');
  return { ...built, data: Template.fromStack(built.stacks.data), pipeline, importMachine };
}

/** One resource of a synthesized template, with its properties typed as the test reads them. */
export interface ResourceJson<P = Record<string, unknown>> {
  readonly Properties: P;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string[];
}

/** The resources of one type in a template, by logical id. */
export function resourcesOf<P = Record<string, unknown>>(
  template: Template,
  type: string,
): Record<string, ResourceJson<P>> {
  return template.findResources(type) as Record<string, ResourceJson<P>>;
}

/** Function resources carrying `matchbridge:handler` metadata, by handler name. */
export function functionsByHandler(
  template: Template,
): Record<string, { logicalId: string; properties: FunctionProps }> {
  const found: Record<string, { logicalId: string; properties: FunctionProps }> = {};
  for (const [logicalId, resource] of Object.entries(
    resourcesOf<FunctionProps>(template, 'AWS::Lambda::Function'),
  )) {
    const handler = resource.Metadata?.['matchbridge:handler'];
    if (typeof handler === 'string') found[handler] = { logicalId, properties: resource.Properties };
  }
  return found;
}

/** The parts of an AWS::Lambda::Function the tests read. */
export interface FunctionProps {
  readonly FunctionName?: string;
  readonly Runtime: string;
  readonly Architectures?: string[];
  readonly TracingConfig?: { Mode: string };
  readonly VpcConfig?: { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
  readonly Environment?: { Variables: Record<string, unknown> };
  readonly MemorySize?: number;
  readonly ReservedConcurrentExecutions?: number;
  readonly Role?: { 'Fn::GetAtt': [string, string] };
  readonly Timeout?: number;
  readonly LoggingConfig?: { LogGroup: unknown };
}

/** An existing VPC, as a deployment with MSK names the cluster's (a new VPC cannot reach it). */
export const MSK_VPC = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
} as const;
