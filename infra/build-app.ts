import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Tags } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { type InfraConfig, readInfraConfig } from './config.ts';
import { PROJECT_ROOT } from './constructs/matchbridge-function.ts';
import { DataStack } from './stacks/data-stack.ts';
import { PipelineStack } from './stacks/pipeline-stack.ts';

export interface BuildAppOptions {
  /** Context overriding `cdk.json` and the CLI's `-c` (as `postCliContext`). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Skip esbuild (no stack is bundled): a fast, in-process synth for tests and the local runner. */
  readonly skipBundling?: boolean;
  /** Where `app.synth()` writes the cloud assembly (default: the CLI's, or a temporary folder). */
  readonly outdir?: string;
  /**
   * Run CDK's built-in CloudFormation validation on synth (default true). It takes most of an in-process
   * synth's time; `cdk synth` always runs it, with findings as errors (`validateAgainstDefaultRules`).
   */
  readonly validation?: boolean;
}

export interface MatchbridgeApp {
  readonly app: App;
  readonly config: InfraConfig;
  readonly stacks: { readonly data: DataStack; readonly pipeline: PipelineStack };
}

/**
 * The context of `cdk.json`. The CLI passes it to the app itself; reading it here too makes an in-process
 * synth (tests, local runner) see the same context as `cdk synth`, the CLI's values still taking precedence.
 */
function cdkJsonContext(): Record<string, unknown> {
  const file = join(PROJECT_ROOT, 'cdk.json');
  if (!existsSync(file)) return {};
  const parsed: { context?: Record<string, unknown> } = JSON.parse(readFileSync(file, 'utf8'));
  return parsed.context ?? {};
}

/** Builds the Matchbridge app: configuration read once from context, then the data and pipeline stacks. */
export function buildApp(opts: BuildAppOptions = {}): MatchbridgeApp {
  const app = new App({
    context: cdkJsonContext(),
    postCliContext: {
      ...opts.context,
      ...(opts.skipBundling === true ? { [BUNDLING_STACKS]: [] } : {}),
    },
    ...(opts.outdir === undefined ? {} : { outdir: opts.outdir }),
    builtinCloudFormationValidation: opts.validation ?? true,
  });
  const config = readInfraConfig(app.node);
  const prefix = `matchbridge-${config.envName}`;
  Tags.of(app).add('project', 'matchbridge');
  Tags.of(app).add('environment', config.envName);

  const data = new DataStack(app, `${prefix}-data`, {
    config,
    description: 'Matchbridge: network, PostgreSQL and the import bucket (stateful)',
  });
  const pipeline = new PipelineStack(app, `${prefix}-pipeline`, {
    config,
    ...(data.network ? { network: data.network } : {}),
    database: data.database,
    staging: data.staging,
    description: 'Matchbridge: import functions, state machine and ingest',
  });
  return { app, config, stacks: { data, pipeline } };
}
