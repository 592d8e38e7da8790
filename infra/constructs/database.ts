import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { APPLICATION_ROLE, MIGRATOR_ROLE } from '../../lib/db/roles.ts';
import type { DatabaseConfig } from '../config.ts';

const ENGINE_VERSIONS = {
  '16': rds.PostgresEngineVersion.VER_16,
  '17': rds.PostgresEngineVersion.VER_17,
} as const;

/** RDS Proxy always listens on PostgreSQL's default port. */
const PROXY_PORT = 5432;

/** How long a client waits for one of the proxy's database connections before it is refused. */
const BORROW_TIMEOUT_SECONDS = 30;

/** Connections one batch function process keeps (its DB_POOL_SIZE): one batch at a time, one transaction. */
const BATCH_POOL_SIZE = 2;

/** The batch functions sharing `proxyConnections` between them. */
const BATCH_FUNCTIONS = 2;

/** What a function needs to use the database; {@link Database} on AWS, {@link UrlDatabase} on LocalStack. */
export interface DatabaseAccess {
  /** A function that reads and writes rows. */
  bind(fn: lambda.Function): void;
  /** One of the batch functions, many at once: {@link bind}, with its share of the connections. */
  bindBatch(fn: lambda.Function): void;
  /** The migrate function, which changes the schema. */
  bindMigrator(fn: lambda.Function): void;
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

  bindBatch(fn: lambda.Function): void {
    this.bind(fn);
  }

  bindMigrator(fn: lambda.Function): void {
    this.bind(fn);
  }
}

/** The master user (the instance's generated secret): only the migrate function signs in as it, to set up roles. */
const MASTER_USER = 'matchbridge';

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
  /** `{username, password}` of the application and migrator roles, which the proxy signs in with. */
  readonly applicationSecret?: secretsmanager.ISecret;
  readonly migratorSecret?: secretsmanager.ISecret;
  /** Reserved concurrency of each batch function: its share of the proxy's connections. */
  readonly batchConcurrency?: number;

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
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USER),
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

    // RDS Proxy signs in to PostgreSQL with a secret per user: the roles get theirs, and the migrate function
    // gives each role its secret's password. Their first rotation waits a full period, so that it never
    // comes before the migrate function created the role.
    const roleSecret = (id: string, username: string) => {
      const roleSecret = new rds.DatabaseSecret(this, id, { username }).attach(instance);
      new secretsmanager.SecretRotation(this, `${id}Rotation`, {
        application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
        secret: roleSecret,
        target: instance,
        vpc: props.vpc,
        vpcSubnets,
        automaticallyAfter: Duration.days(config.rotationDays),
        rotateImmediatelyOnUpdate: false,
      });
      return roleSecret;
    };
    const applicationSecret = roleSecret('ApplicationSecret', APPLICATION_ROLE);
    const migratorSecret = roleSecret('MigratorSecret', MIGRATOR_ROLE);

    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromInstance(instance),
      secrets: [secret, applicationSecret, migratorSecret],
      maxConnectionsPercent: config.maxConnectionsPercent,
      vpc: props.vpc,
      vpcSubnets,
      requireTLS: true,
      iamAuth: true,
      borrowTimeout: Duration.seconds(BORROW_TIMEOUT_SECONDS),
    });
    instance.connections.allowDefaultPortFrom(proxy, 'RDS Proxy to PostgreSQL');

    this.instance = instance;
    this.proxy = proxy;
    this.secret = secret;
    this.applicationSecret = applicationSecret;
    this.migratorSecret = migratorSecret;
    this.batchConcurrency = Math.floor(config.proxyConnections / BATCH_FUNCTIONS / BATCH_POOL_SIZE);
    this.host = proxy.endpoint;
    this.port = PROXY_PORT;
    this.connections = new ec2.Connections({
      securityGroups: proxy.connections.securityGroups,
      defaultPort: ec2.Port.tcp(PROXY_PORT),
    });
  }

  /**
   * Lets a function use the database: reaches the endpoint over the network and finds it through DB_HOST,
   * DB_PORT, DB_NAME and DB_SSL=require; signs in to a new database's proxy with IAM as the application role
   * (`rds-db:connect`, DB_IAM_AUTH, DB_USER), to an existing one with the secret (DB_SECRET_ARN).
   */
  bind(fn: lambda.Function): void {
    this.#bind(fn, APPLICATION_ROLE);
  }

  /**
   * {@link bind} for a batch function: with a new database, its reserved concurrency and DB_POOL_SIZE keep it
   * within its share of the proxy's connections (context `database.proxyConnections`), so a wide Map waits
   * for Lambda instead of timing out on the proxy.
   */
  bindBatch(fn: lambda.Function): void {
    this.bind(fn);
    if (this.batchConcurrency === undefined) return;
    fn.addEnvironment(CONFIG_ENV.dbPoolSize, String(BATCH_POOL_SIZE));
    const cfn = fn.node.defaultChild;
    if (!(cfn instanceof lambda.CfnFunction)) throw new Error(`${fn.node.path} has no CfnFunction`);
    cfn.reservedConcurrentExecutions = this.batchConcurrency;
  }

  /**
   * {@link bind} for the migrate function: with a new database it migrates as the migrator role, and first
   * signs in as the master user (DB_ADMIN_USER) to create both roles with their secrets' passwords
   * (DB_APP_SECRET_ARN, DB_MIGRATOR_SECRET_ARN, readable by it alone).
   */
  bindMigrator(fn: lambda.Function): void {
    this.#bind(fn, MIGRATOR_ROLE);
    if (!this.proxy || !this.applicationSecret || !this.migratorSecret) return;
    this.proxy.grantConnect(fn, MASTER_USER);
    fn.addEnvironment(CONFIG_ENV.dbAdminUser, MASTER_USER);
    this.applicationSecret.grantRead(fn);
    fn.addEnvironment(CONFIG_ENV.dbAppSecretArn, this.applicationSecret.secretArn);
    this.migratorSecret.grantRead(fn);
    fn.addEnvironment(CONFIG_ENV.dbMigratorSecretArn, this.migratorSecret.secretArn);
  }

  /**
   * Borrow latency is how long a client waited for a database connection; a client waiting as long as the
   * borrow timeout is refused. Made in the scope of the alarm topic (the pipeline stack), so that the data
   * stack never depends on it; undefined for an existing database (no proxy).
   */
  borrowLatencyAlarm(scope: Construct): cloudwatch.Alarm | undefined {
    if (!this.proxy) return undefined;
    return new cloudwatch.Alarm(scope, 'ProxyBorrowLatencyAlarm', {
      alarmDescription:
        'RDS Proxy clients waited over half the borrow timeout for a database connection: the pool is exhausted ' +
        'and connections will be refused (lower the batch concurrency or raise database.maxConnectionsPercent)',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName: 'DatabaseConnectionsBorrowLatency',
        dimensionsMap: { ProxyName: this.proxy.dbProxyName },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      }),
      // Microseconds: half the 30 s borrow timeout.
      threshold: BORROW_TIMEOUT_SECONDS * 500_000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  #bind(fn: lambda.Function, role: string): void {
    if (this.proxy) {
      this.proxy.grantConnect(fn, role);
      fn.addEnvironment(CONFIG_ENV.dbIamAuth, 'true');
      fn.addEnvironment(CONFIG_ENV.dbUser, role);
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
