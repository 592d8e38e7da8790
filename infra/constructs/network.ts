import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { VpcConfig } from '../config.ts';

export interface NetworkProps {
  /** A new VPC, or an existing one described by its attributes (no account lookup: synth stays offline). */
  readonly config: VpcConfig;
}

/**
 * The VPC the functions and the database live in. A new VPC has public subnets (NAT), private subnets with
 * egress (functions: Secrets Manager, SQS, Step Functions are reached through NAT) and isolated subnets
 * (database), plus an S3 gateway endpoint so multi-gigabyte reads never cross the NAT.
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const config = props.config;
    if (config.mode === 'existing') {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: config.vpcId,
        availabilityZones: [...config.availabilityZones],
        privateSubnetIds: [...config.privateSubnetIds],
      });
      return;
    }
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: config.maxAzs,
      natGateways: config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
  }
}
