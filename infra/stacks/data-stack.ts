import { Fn, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';
import { Database, type DatabaseAccess, UrlDatabase } from '../constructs/database.ts';
import { Network } from '../constructs/network.ts';
import { StagingBucket } from '../constructs/staging-bucket.ts';

export interface DataStackProps extends StackProps {
  readonly config: InfraConfig;
}

/**
 * The stateful half: network, database (with proxy and secret) and the pipeline's bucket. The LocalStack
 * target has no VPC and no RDS: its functions use the compose PostgreSQL by URL.
 */
export class DataStack extends Stack {
  /**
   * An environment-agnostic stack (no account or region at synth) gets two AZs from CDK, whatever `maxAzs`
   * says; the region's first `maxAzs` AZs, resolved by CloudFormation at deploy, give the VPC what it asks.
   */
  override get availabilityZones(): string[] {
    if (!Token.isUnresolved(this.region)) return super.availabilityZones;
    return Array.from({ length: this.#maxAzs }, (_, i) => Fn.select(i, Fn.getAzs()));
  }

  /** Unset on the LocalStack target: the functions run outside any VPC. */
  readonly network?: Network;
  readonly vpc?: ec2.IVpc;
  readonly database: DatabaseAccess;
  readonly staging: StagingBucket;

  readonly #maxAzs: number;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.#maxAzs = config.vpc.mode === 'new' ? config.vpc.maxAzs : 2;
    this.staging = new StagingBucket(this, 'Staging', {
      redriveRetentionDays: config.redriveRetentionDays,
      importJobsDays: config.retention.importJobsDays,
      exportRunsDays: config.retention.exportRunsDays,
    });
    if (config.target === 'localstack') {
      this.database = new UrlDatabase(config.localstack.databaseUrl);
      return;
    }
    this.network = new Network(this, 'Network', { config: config.vpc });
    this.vpc = this.network.vpc;
    this.database = new Database(this, 'Database', {
      vpc: this.vpc,
      subnets: this.network.databaseSubnets,
      config: config.database,
    });
  }
}
