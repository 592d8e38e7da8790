import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';
import { Database } from '../constructs/database.ts';
import { Network } from '../constructs/network.ts';
import { StagingBucket } from '../constructs/staging-bucket.ts';

export interface DataStackProps extends StackProps {
  readonly config: InfraConfig;
}

/** The stateful half: network, database (with proxy and secret) and the pipeline's bucket. */
export class DataStack extends Stack {
  readonly vpc: ec2.IVpc;
  readonly database: Database;
  readonly staging: StagingBucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    this.vpc = new Network(this, 'Network', { config: props.config.vpc }).vpc;
    this.database = new Database(this, 'Database', { vpc: this.vpc, config: props.config.database });
    this.staging = new StagingBucket(this, 'Staging');
  }
}
