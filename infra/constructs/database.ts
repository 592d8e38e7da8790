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

/** What a function needs to use the database; {@link Database} on AWS, {@link UrlDatabase} on LocalStack. */
export interface DatabaseAccess {
  bind(fn: lambda.Function): void;
}

/**
 * LocalStack Community has no RDS: the functions get DATABASE_URL, the compose PostgreSQL as the Lambda
 * containers reach it. Never for AWS: the URL carries the password in plain text.
 */
export class UrlDatabase implements DatabaseAccess {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  bind(fn: lambda.Function): void {
    fn.addEnvironment(CONFIG_ENV.databaseUrl, this.url);
  }
}

/** The user the application signs in as (the generated secret's username). */
const APPLICATION_USER = 'matchbridge';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  /** Where a new instance and its proxy run (isolated subnets). */
  readonly subnets: ec2.SubnetSelection;
  /** A new RDS PostgreSQL instance behind RDS Proxy, or an existing endpoint with its secret. */
  readonly config: DatabaseConfig;
}

/**
 * The PostgreSQL database the functions write to. New: an RDS for PostgreSQL instance in isolated subnets
 * with a generated secret, fronted by an RDS Proxy (many concurrent batch Lambdas share its pool) that
 * requires TLS. Existing: a host, port and secret, with its security group opened to the functions.
 */
export class Database extends Construct implements ec2.IConnectable, DatabaseAccess {
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
  readonly rotation?: secretsmanager.SecretRotation;

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

    const vpcSubnets = props.subnets;
    const instance = new rds.DatabaseInstance(this, 'Instance', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSIONS[config.engineMajorVersion] }),
      instanceType: new ec2.InstanceType(config.instanceType),
      vpc: props.vpc,
      vpcSubnets,
      credentials: rds.Credentials.fromGeneratedSecret(APPLICATION_USER),
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
      iamAuthentication: true,
      enablePerformanceInsights: true,
      autoMinorVersionUpgrade: true,
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', {
        engine: rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSIONS[config.engineMajorVersion] }),
        // Only encrypted connections reach the instance (the proxy speaks TLS to it).
        parameters: { 'rds.force_ssl': '1' },
      }),
    });
    const secret = instance.secret;
    if (secret === undefined) throw new Error('RDS instance was created without a generated secret');
    // The proxy reads the secret on each new database connection, and the functions sign in to the proxy
    // with IAM tokens, so a rotation never reaches them.
    this.rotation = instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(config.rotationDays),
      vpcSubnets,
    });

    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromInstance(instance),
      secrets: [secret],
      vpc: props.vpc,
      vpcSubnets,
      requireTLS: true,
      iamAuth: true,
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
   * Lets a function use the database: reaches the endpoint over the network and finds it through DB_HOST,
   * DB_PORT, DB_NAME and DB_SSL=require; signs in to a new database's proxy with IAM (`rds-db:connect`,
   * DB_IAM_AUTH, DB_USER), to an existing one with the secret (DB_SECRET_ARN).
   */
  bind(fn: lambda.Function): void {
    if (this.proxy) {
      this.proxy.grantConnect(fn, APPLICATION_USER);
      fn.addEnvironment(CONFIG_ENV.dbIamAuth, 'true');
      fn.addEnvironment(CONFIG_ENV.dbUser, APPLICATION_USER);
    } else {
      this.secret.grantRead(fn);
      fn.addEnvironment(CONFIG_ENV.dbSecretArn, this.secret.secretArn);
    }
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
    fn.addEnvironment(CONFIG_ENV.dbSsl, 'require');
  }
}
