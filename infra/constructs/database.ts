import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import type { DatabaseConfig } from '../config.ts';

const ENGINE_VERSIONS = {
  '16': rds.PostgresEngineVersion.VER_16,
  '17': rds.PostgresEngineVersion.VER_17,
} as const;

/** RDS Proxy always listens on PostgreSQL's default port. */
const PROXY_PORT = 5432;

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  /** A new RDS PostgreSQL instance behind RDS Proxy, or an existing endpoint with its secret. */
  readonly config: DatabaseConfig;
}

/**
 * The PostgreSQL database the functions write to. New: an RDS for PostgreSQL instance in isolated subnets
 * with a generated secret, fronted by an RDS Proxy (many concurrent batch Lambdas share its pool) that
 * requires TLS. Existing: a host, port and secret, with its security group opened to the functions.
 */
export class Database extends Construct implements ec2.IConnectable {
  /** The security groups guarding the endpoint the functions connect to (the proxy's, or the given one). */
  readonly connections: ec2.Connections;
  /** Host name the functions connect to: the proxy endpoint, or the configured host. */
  readonly host: string;
  readonly port: number;
  readonly databaseName: string;
  /** `{username, password}` of the application user. */
  readonly secret: secretsmanager.ISecret;
  /** Set when the database is created here. */
  readonly instance?: rds.DatabaseInstance;
  readonly proxy?: rds.DatabaseProxy;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const config = props.config;
    this.databaseName = config.databaseName;

    if (config.mode === 'existing') {
      this.host = config.host;
      this.port = config.port;
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', config.secretArn);
      this.connections = new ec2.Connections({
        securityGroups: [
          ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', config.securityGroupId),
        ],
        defaultPort: ec2.Port.tcp(config.port),
      });
      return;
    }

    const vpcSubnets: ec2.SubnetSelection = {
      subnetType:
        props.vpc.isolatedSubnets.length > 0
          ? ec2.SubnetType.PRIVATE_ISOLATED
          : ec2.SubnetType.PRIVATE_WITH_EGRESS,
    };
    const instance = new rds.DatabaseInstance(this, 'Instance', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSIONS[config.engineMajorVersion] }),
      instanceType: new ec2.InstanceType(config.instanceType),
      vpc: props.vpc,
      vpcSubnets,
      credentials: rds.Credentials.fromGeneratedSecret('matchbridge'),
      databaseName: config.databaseName,
      allocatedStorage: config.allocatedStorageGiB,
      maxAllocatedStorage: config.maxAllocatedStorageGiB,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      multiAz: config.multiAz,
      deletionProtection: config.deletionProtection,
      backupRetention: Duration.days(config.backupRetentionDays),
      cloudwatchLogsExports: ['postgresql'],
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    const secret = instance.secret;
    if (secret === undefined) throw new Error('RDS instance was created without a generated secret');

    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromInstance(instance),
      secrets: [secret],
      vpc: props.vpc,
      vpcSubnets,
      requireTLS: true,
      borrowTimeout: Duration.seconds(30),
    });
    instance.connections.allowDefaultPortFrom(proxy, 'RDS Proxy to PostgreSQL');

    this.instance = instance;
    this.proxy = proxy;
    this.secret = secret;
    this.host = proxy.endpoint;
    this.port = PROXY_PORT;
    this.connections = new ec2.Connections({
      securityGroups: proxy.connections.securityGroups,
      defaultPort: ec2.Port.tcp(PROXY_PORT),
    });
  }

  /**
   * Lets a function use the database: reads the secret, reaches the endpoint over the network, and finds
   * it through DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN and DB_SSL=require.
   */
  bind(fn: lambda.Function): void {
    this.secret.grantRead(fn);
    // Added as a remote rule so that, across stacks, the ingress rule lands in the function's stack and the
    // data stack never depends on the pipeline stack. Functions allow all outbound, so no egress rule.
    for (const endpointGroup of this.connections.securityGroups) {
      for (const functionGroup of fn.connections.securityGroups) {
        endpointGroup.addIngressRule(functionGroup, ec2.Port.tcp(this.port), 'Matchbridge function', true);
      }
    }
    fn.addEnvironment(CONFIG_ENV.dbHost, this.host);
    fn.addEnvironment(CONFIG_ENV.dbPort, String(this.port));
    fn.addEnvironment(CONFIG_ENV.dbName, this.databaseName);
    fn.addEnvironment(CONFIG_ENV.dbSecretArn, this.secret.secretArn);
    fn.addEnvironment(CONFIG_ENV.dbSsl, 'require');
  }
}
