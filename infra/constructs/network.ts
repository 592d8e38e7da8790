import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { VpcConfig } from '../config.ts';

/** AWS APIs the functions call, reached through interface endpoints (S3 and DynamoDB have gateways). */
export const INTERFACE_ENDPOINTS = {
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
  StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
  EventBridge: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
  // The bulk API's function invokes itself (asynchronously) to run the jobs it accepts.
  Lambda: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
} as const;

export interface NetworkProps {
  /** A new VPC, or an existing one described by its attributes (no account lookup: synth stays offline). */
  readonly config: VpcConfig;
}

/**
 * The VPC the functions and the database live in. A new VPC has private subnets for the functions (isolated
 * unless NAT gateways are asked for) and isolated subnets for the database, gateway endpoints for S3 (so
 * multi-gigabyte reads never cross a NAT) and DynamoDB, and interface endpoints for the other AWS APIs the
 * pipeline calls, so it needs no NAT at all. An existing VPC is taken as described; its private subnets
 * hold both.
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  /** Where the functions run. */
  readonly functionSubnets: ec2.SubnetSelection;
  /** Where a new database and its proxy run. */
  readonly databaseSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const config = props.config;
    if (config.mode === 'existing') {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: config.vpcId,
        availabilityZones: [...config.availabilityZones],
        privateSubnetIds: [...config.privateSubnetIds],
        ...(config.cidrBlock === undefined ? {} : { vpcCidrBlock: config.cidrBlock }),
      });
      this.functionSubnets = { subnets: this.vpc.privateSubnets };
      this.databaseSubnets = this.functionSubnets;
    } else {
      const withNat = config.natGateways > 0;
      this.vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: config.maxAzs,
        natGateways: config.natGateways,
        subnetConfiguration: [
          // Public subnets only hold the NAT gateways.
          ...(withNat ? [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }] : []),
          {
            name: 'private',
            subnetType: withNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
            cidrMask: 20,
          },
          { name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
        ],
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
      });
      this.functionSubnets = { subnetGroupName: 'private' };
      this.databaseSubnets = { subnetGroupName: 'database' };
      (this.vpc as ec2.Vpc).addFlowLog('FlowLog', {
        trafficType: ec2.FlowLogTrafficType.REJECT,
      });
    }
    if (config.interfaceEndpoints) {
      for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
        this.vpc.addInterfaceEndpoint(name, {
          service,
          subnets: this.functionSubnets,
          privateDnsEnabled: true,
        });
      }
    }
  }
}
