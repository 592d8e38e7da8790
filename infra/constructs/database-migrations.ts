import { CustomResource, FileSystem, RemovalPolicy } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface DatabaseMigrationsProps {
  /**
   * The `migrate` function: receives the CloudFormation custom-resource event (through the Provider
   * framework), applies pending migrations on Create and Update, and does nothing on Delete.
   */
  readonly handler: lambda.IFunction;
  /** The `migrations/` folder; its fingerprint makes every change of a migration re-run the resource. */
  readonly migrationsDir: string;
  /**
   * The module that sets up the database roles before the migrations (`lib/db/roles.ts`); its fingerprint
   * re-runs the resource when the roles or their grants change, even with no new migration.
   */
  readonly roleSetupFile: string;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Applies the database migrations on every deploy that changes them, before anything that uses the schema:
 * make those resources depend on {@link DatabaseMigrations.resource}.
 */
export class DatabaseMigrations extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: DatabaseMigrationsProps) {
    super(scope, id);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: props.handler,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::MatchbridgeMigrations',
      properties: {
        MigrationsFingerprint: FileSystem.fingerprint(props.migrationsDir),
        RoleSetupFingerprint: FileSystem.fingerprint(props.roleSetupFile),
      },
    });
    // The handler and everything it owns (network rules to the database, IAM policies) must exist before
    // the migration runs, not merely the function.
    this.resource.node.addDependency(props.handler);
  }
}
