import { join, resolve } from 'node:path';
import { type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../lib/observability/job-metrics.ts';
import type { FunctionSettings, HandlerName } from '../config.ts';
import { METADATA_KEYS } from '../metadata.ts';
import { physicalName } from '../naming.ts';

/** The repository root: handlers, `migrations/` and the lock file are found from here, whatever the cwd. */
export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

/** The entry file of a handler: `functions/<name>/handler.ts`, exporting `handler`. */
export function handlerEntry(name: HandlerName): string {
  return join(PROJECT_ROOT, 'functions', name, 'handler.ts');
}

/** Powertools reads these itself; the same values as `lib/observability/` (the dashboard reads them). */
const POWERTOOLS_ENVIRONMENT = {
  POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
  POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
} as const;

/**
 * Packages replaced in every bundle. The Kafka client's compression and CRC code (`@platformatic/wasm-utils`)
 * reads `native.wasm` next to its module when loaded, a file a bundle does not carry; its `bundled` entry
 * inlines the module.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled',
};

// An ESM bundle has no `require`; CommonJS dependencies (pg, csv-parse's CJS paths) call it for built-ins.
export const REQUIRE_SHIM =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * The esbuild settings of every function's bundle, shared with the tests that bundle handlers the same way.
 * `keepNames`: Step Functions `Retry`/`Catch` match on `error.name`, which is the class name
 * (`lib/errors.ts`); minified without it, every class is renamed and no rule would ever match on AWS.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: REQUIRE_SHIM,
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  // pg loads its optional native binding lazily; it is not installed and never used.
  externalModules: ['pg-native'],
  esbuildArgs: Object.fromEntries(
    Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to]),
  ),
} as const satisfies BundlingOptions;

export interface MatchbridgeFunctionProps {
  /** Which handler to run: the folder under `functions/`. Also written as `matchbridge:handler` metadata. */
  readonly handlerName: HandlerName;
  /** Timeout and memory, from the configuration. */
  readonly settings: FunctionSettings;
  /**
   * The function runs in this VPC's `vpcSubnets` (the database is only reachable there); none on the
   * LocalStack target.
   */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The function's security groups in the VPC; by default one of its own. */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
  readonly logRetention: RetentionDays;
  /** Variables added to the Powertools defaults. Binding methods of other constructs add their own. */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Project folders copied next to the bundle after esbuild runs, so the handler finds them at
   * `${LAMBDA_TASK_ROOT}/<folder>` (e.g. `migrations`).
   */
  readonly bundledFolders?: readonly string[];
}

/**
 * A Matchbridge Lambda, named `<namePrefix>-<handler>` (e.g. `matchbridge-prod-load-batch`): Node 24 on ARM, an ESM bundle built by esbuild from `functions/<name>/handler.ts`,
 * X-Ray tracing, its own log group with a retention, in the VPC's private subnets, Powertools logging and
 * metrics with one service name and namespace.
 */
export class MatchbridgeFunction extends NodejsFunction {
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: MatchbridgeFunctionProps) {
    const folders = props.bundledFolders ?? [];
    const functionName = physicalName(scope, props.handlerName);
    super(scope, id, {
      functionName,
      entry: handlerEntry(props.handlerName),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.settings.memoryMiB,
      timeout: Duration.seconds(props.settings.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      ...(props.vpc
        ? {
            vpc: props.vpc,
            vpcSubnets: props.vpcSubnets ?? { subnets: props.vpc.privateSubnets },
            ...(props.securityGroups ? { securityGroups: [...props.securityGroups] } : {}),
          }
        : {}),
      // A sibling, not a child: the log group must exist before `super` can be handed it.
      logGroup: new LogGroup(scope, `${id}LogGroup`, {
        logGroupName: `/aws/lambda/${functionName}`,
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: {
        ...POWERTOOLS_ENVIRONMENT,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        ...BUNDLING,
        mainFields: [...BUNDLING.mainFields],
        externalModules: [...BUNDLING.externalModules],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            folders.map((folder) => `cp -R "${join(inputDir, folder)}" "${join(outputDir, folder)}"`),
        },
      },
    });
    this.handlerName = props.handlerName;
    (this.node.defaultChild as CfnResource).addMetadata(METADATA_KEYS.handler, props.handlerName);
  }
}
