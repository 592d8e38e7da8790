import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { buildApp } from '../../infra/build-app.ts';
import { parseInfraConfig } from '../../infra/config.ts';
import { extractStateMachines } from '../../infra/definitions.ts';
import { nagReport } from '../../infra/nag.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const EXISTING = {
  vpc: {
    vpcId: 'vpc-0abc',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aaa', 'subnet-0bbb'],
    interfaceEndpoints: true,
    cidrBlock: '10.20.0.0/16',
  },
  database: {
    host: 'db.internal.example',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:matchbridge-db-AbCdEf',
    securityGroupId: 'sg-0123456789abcdef0',
  },
  mskClusterArn:
    'arn:aws:kafka:eu-west-1:123456789012:cluster/platform/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1',
  mskBootstrapBrokers: 'b-1.platform.kafka.eu-west-1.amazonaws.com:9098',
};

/** Every deployable configuration: cdk-nag must accept each. */
const CONFIGURATIONS: Record<string, Record<string, unknown>> = {
  dev: {},
  prod: { preset: 'prod' },
  'prod on an existing VPC, database and MSK': { preset: 'prod', ...EXISTING },
};

describe('presets', () => {
  it('prod: Multi-AZ, deletion protection, 30 days of backups, 3 AZs, 90 days of logs', () => {
    const config = parseInfraConfig({ preset: 'prod' });

    assert.equal(config.envName, 'prod');
    assert.equal(config.database.mode, 'new');
    if (config.database.mode !== 'new') return;
    assert.equal(config.database.multiAz, true);
    assert.equal(config.database.deletionProtection, true);
    assert.equal(config.database.backupRetentionDays, 30);
    assert.equal(config.vpc.mode === 'new' && config.vpc.maxAzs, 3);
    assert.equal(config.logRetentionDays, 90);
  });

  it('lets the context win field by field over the preset', () => {
    const config = parseInfraConfig({
      preset: 'prod',
      database: { backupRetentionDays: 14 },
      envName: 'prod-eu',
    });

    assert.equal(config.envName, 'prod-eu');
    assert.ok(config.database.mode === 'new' && config.database.multiAz);
    assert.equal(config.database.mode === 'new' && config.database.backupRetentionDays, 14);
  });

  it('replaces the preset’s new database and VPC with existing ones given in the context', () => {
    const config = parseInfraConfig({ preset: 'prod', ...EXISTING });

    assert.equal(config.database.mode, 'existing');
    assert.equal(config.vpc.mode, 'existing');
  });

  it('rejects an unknown preset, naming the key', () => {
    assert.throws(
      () => parseInfraConfig({ preset: 'staging' }),
      (error: Error & { details?: { keys: string[] } }) => {
        assert.equal(error.name, 'ConfigurationError');
        assert.deepEqual(error.details?.keys, ['preset']);
        return true;
      },
    );
  });

  it('has the daily export schedule (23:20 Asia/Kolkata) and rejects a malformed one', () => {
    const config = parseInfraConfig({});
    assert.deepEqual(config.userExport, {
      schedule: 'cron(20 23 * * ? *)',
      timeZone: 'Asia/Kolkata',
      mapConcurrency: 4,
      fullOnSchedule: false,
      topic: 'matchbridge-users',
      messageMaxBytes: 262_144,
      batchRows: 1000,
      rowsPerFunction: 5_000_000,
    });
    assert.equal(
      parseInfraConfig({ nodeImportTopics: ['prod-users'] }).userExport.topic,
      'prod-users',
      'the requests go to the first node import topic unless userExport.topic names one',
    );
    assert.throws(
      () => parseInfraConfig({ userExport: { schedule: '20 23 * * *', timeZone: 'Mars/Olympus' } }),
      (error: Error & { details?: { keys: string[] } }) => {
        assert.deepEqual(error.details?.keys.sort(), ['userExport.schedule', 'userExport.timeZone']);
        return true;
      },
    );
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  for (const [name, context] of Object.entries(CONFIGURATIONS)) {
    it(`has no unacknowledged finding: ${name}`, () => {
      const { app } = synth(context);
      app.synth();

      const { open, acknowledged } = nagReport(app);
      assert.deepEqual(open, []);
      assert.ok(acknowledged.length > 0);
      for (const finding of acknowledged)
        assert.ok((finding.reason ?? '').length > 20, `${finding.rule} has a reason`);
    });
  }

  it('reports a finding nobody acknowledged', () => {
    const { app, stacks } = buildApp({
      skipBundling: true,
      validation: false,
      outdir: mkdtempSync(join(tmpdir(), 'mb-nag-')),
    });
    // A queue that is no dead-letter queue and has none: AwsSolutions-SQS3, not acknowledged for plain queues.
    new sqs.Queue(stacks.pipeline, 'Unguarded', { enforceSSL: true });
    app.synth();

    assert.ok(nagReport(app).open.some((finding) => finding.rule === 'AwsSolutions-SQS3'));
  });
});

describe('network and data', () => {
  const { data, pipeline } = synth();

  it('needs no NAT: functions in isolated subnets, endpoints for S3, DynamoDB, Secrets Manager, SQS, Step Functions, EventBridge, Lambda', () => {
    data.resourceCountIs('AWS::EC2::NatGateway', 0);
    data.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const endpoints = Object.values(
      resourcesOf<{ ServiceName: unknown; VpcEndpointType?: string }>(data, 'AWS::EC2::VPCEndpoint'),
    ).map((endpoint) => JSON.stringify(endpoint.Properties.ServiceName));
    for (const service of ['s3', 'dynamodb', 'secretsmanager', 'sqs', 'states', 'events', 'lambda']) {
      assert.ok(
        endpoints.some((name) => name.includes(`.${service}`)),
        `an endpoint for ${service}`,
      );
    }
    for (const { properties } of Object.values(functionsByHandler(pipeline))) {
      assert.ok((properties.VpcConfig?.SubnetIds.length ?? 0) > 0);
    }
  });

  it('encrypts the database, keeps backups, rotates its secret and lets the functions in with IAM only', () => {
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      StorageEncrypted: true,
      BackupRetentionPeriod: 7,
      MultiAZ: false,
    });
    data.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    data.hasResourceProperties('AWS::RDS::DBProxy', {
      RequireTLS: true,
      // The master user's, the application role's and the migrator role's secrets.
      Auth: [
        Match.objectLike({ IAMAuth: 'REQUIRED' }),
        Match.objectLike({ IAMAuth: 'REQUIRED' }),
        Match.objectLike({ IAMAuth: 'REQUIRED' }),
      ],
    });
    pipeline.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'rds-db:connect' })]),
      },
    });
  });

  it('is Multi-AZ with deletion protection in prod', () => {
    const { data: prod } = synth({ preset: 'prod' });
    prod.hasResourceProperties('AWS::RDS::DBInstance', {
      MultiAZ: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 30,
    });
  });

  it('keeps point-in-time recovery on the idempotency table, with its TTL', () => {
    pipeline.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });

  it('logs access to the bucket into a private, encrypted bucket of its own', () => {
    const buckets = resourcesOf<{ LoggingConfiguration?: unknown }>(data, 'AWS::S3::Bucket');
    const staging = Object.entries(buckets).find(([id]) => id.startsWith('StagingBucket'))?.[1];
    assert.ok(staging?.Properties.LoggingConfiguration);
    assert.equal(Object.keys(buckets).length, 2);
  });
});

describe('LocalStack target', () => {
  const local = synth({ target: 'localstack' });
  const aws = synth();

  it('has no VPC, RDS or MSK; the functions use the compose PostgreSQL and Kafka', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBProxy',
      'AWS::Lambda::EventSourceMapping',
    ]) {
      local.data.resourceCountIs(type, 0);
      local.pipeline.resourceCountIs(type, 0);
    }
    const functions = functionsByHandler(local.pipeline);
    for (const [name, { properties }] of Object.entries(functions)) {
      assert.equal(properties.VpcConfig, undefined, `${name} runs outside any VPC`);
    }
    const finalize = functions.finalize?.properties.Environment?.Variables ?? {};
    assert.equal(
      finalize[CONFIG_ENV.databaseUrl],
      'postgres://matchbridge:matchbridge@postgres:5432/matchbridge',
    );
    assert.equal(finalize[CONFIG_ENV.kafkaBrokers], 'kafka:19092');
    assert.equal(finalize[CONFIG_ENV.kafkaAuth], 'none');
    const exporter = functions['export-group']?.properties.Environment?.Variables ?? {};
    assert.equal(exporter[CONFIG_ENV.kafkaBrokers], 'kafka:19092', 'export requests go to the compose Kafka');
    assert.equal(exporter[CONFIG_ENV.kafkaAuth], 'none');
    assert.equal(local.stacks.pipeline.stackName, 'matchbridge-local-pipeline');
  });

  it('runs the same state machine definitions as the AWS target', () => {
    assert.deepEqual(
      extractStateMachines({ p: local.pipeline.toJSON() }),
      extractStateMachines({ p: aws.pipeline.toJSON() }),
    );
  });

  it('refuses an MSK cluster, which LocalStack Community does not have', () => {
    assert.throws(
      () => parseInfraConfig({ target: 'localstack', mskClusterArn: EXISTING.mskClusterArn }),
      (error: Error & { details?: { keys: string[] } }) => {
        assert.deepEqual(error.details?.keys, ['mskClusterArn']);
        return true;
      },
    );
  });
});
