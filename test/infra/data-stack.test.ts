import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const EXISTING_DATABASE = {
  mode: 'existing',
  host: 'db.internal.example',
  port: 6432,
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:matchbridge-db-AbCdEf',
  securityGroupId: 'sg-0123456789abcdef0',
};
const EXISTING_VPC = {
  vpcId: 'vpc-0abc',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aaa', 'subnet-0bbb'],
};

/** The enabled lifecycle rules of a bucket: days to expiry by prefix. */
function expiryOf(bucket: { Properties: Record<string, unknown> } | undefined): Record<string, number> {
  assert.ok(bucket, 'the staging bucket');
  const { Rules } = bucket.Properties.LifecycleConfiguration as {
    Rules: { Prefix: string; ExpirationInDays: number; Status: string }[];
  };
  const enabled = Rules.filter((rule) => rule.Status === 'Enabled');
  return Object.fromEntries(enabled.map((rule) => [rule.Prefix, rule.ExpirationInDays]));
}

describe('data stack', () => {
  it('spreads a new VPC over 3 availability zones in the prod preset, 2 in dev', () => {
    const subnetsOf = (context: Record<string, unknown>) =>
      Object.keys(resourcesOf(synth(context).data, 'AWS::EC2::Subnet')).filter((id) => id.includes('private'))
        .length;

    assert.equal(subnetsOf({ preset: 'prod' }), 3);
    assert.equal(subnetsOf({}), 2);
  });

  describe('with a new database', () => {
    const { data, pipeline } = synth();

    it('creates a PostgreSQL 16+ instance, its generated secret and an RDS Proxy requiring TLS', () => {
      const [instance, ...moreInstances] = Object.values(resourcesOf(data, 'AWS::RDS::DBInstance'));
      assert.equal(moreInstances.length, 0);
      assert.equal(instance?.Properties.Engine, 'postgres');
      assert.ok(Number.parseInt(String(instance?.Properties.EngineVersion), 10) >= 16);
      assert.equal(instance?.Properties.StorageEncrypted, true);
      // The master user's, the application role's and the migrator role's.
      data.resourceCountIs('AWS::SecretsManager::Secret', 3);
      data.resourceCountIs('AWS::RDS::DBProxy', 1);
      data.hasResourceProperties('AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL', RequireTLS: true });
    });

    it('creates its own VPC with private subnets for the functions', () => {
      data.resourceCountIs('AWS::EC2::VPC', 1);
      data.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
    });

    it('opens the proxy to each function from the pipeline stack, keeping the data stack independent', () => {
      // Every function but object-created, dlq-replay and export-summary reaches the database.
      pipeline.resourceCountIs('AWS::EC2::SecurityGroupIngress', 16);
      pipeline.allResourcesProperties('AWS::EC2::SecurityGroupIngress', {
        FromPort: 5432,
        ToPort: 5432,
        GroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('DatabaseProxy') },
      });
    });
  });

  describe('with an existing database and VPC', () => {
    const { data, pipeline } = synth({ database: EXISTING_DATABASE, vpc: EXISTING_VPC });

    it('creates no instance, proxy, secret or VPC', () => {
      for (const type of [
        'AWS::RDS::DBInstance',
        'AWS::RDS::DBProxy',
        'AWS::SecretsManager::Secret',
        'AWS::EC2::VPC',
      ]) {
        data.resourceCountIs(type, 0);
      }
    });

    it('points the functions at the given endpoint and opens its security group to them', () => {
      // object-created and dlq-replay only start imports and move dead letters, export-summary totals a run:
      // no database for them.
      const withoutDatabase = ['object-created', 'dlq-replay', 'export-summary'];
      const functions = Object.entries(functionsByHandler(pipeline))
        .filter(([handler]) => !withoutDatabase.includes(handler))
        .map(([, fn]) => fn);
      assert.equal(functions.length, 16);
      for (const { properties } of functions) {
        assert.deepEqual(properties.VpcConfig?.SubnetIds, EXISTING_VPC.privateSubnetIds);
        const env = properties.Environment?.Variables ?? {};
        assert.equal(env.DB_HOST, EXISTING_DATABASE.host);
        assert.equal(env.DB_PORT, '6432');
        assert.equal(env.DB_SECRET_ARN, EXISTING_DATABASE.secretArn);
        assert.equal(env.DB_SSL, 'require');
      }
      pipeline.allResourcesProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: EXISTING_DATABASE.securityGroupId,
        FromPort: 6432,
      });
    });
  });

  describe('bucket', () => {
    const { data } = synth();
    const buckets = resourcesOf(data, 'AWS::S3::Bucket');
    const [bucket, ...others] = Object.entries(buckets)
      .filter(([id]) => id.startsWith('StagingBucket'))
      .map(([, resource]) => resource);

    it('is encrypted, private and sends its events to EventBridge', () => {
      assert.equal(others.length, 0);
      assert.deepEqual(bucket?.Properties.BucketEncryption, {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      assert.deepEqual(bucket?.Properties.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      data.hasResourceProperties('Custom::S3BucketNotifications', {
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      });
    });

    it('denies requests without TLS', () => {
      data.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('keeps incoming/ and staging/ past the 14 days of redrive (15 by default), reports/ and exports/ 90 days', () => {
      assert.deepEqual(expiryOf(bucket), { 'incoming/': 15, 'staging/': 15, 'reports/': 90, 'exports/': 90 });
    });

    it('keeps reports/ as long as import jobs and exports/ as long as export runs (the retention settings)', () => {
      const { data: tuned } = synth({ retention: { importJobsDays: 45, exportRunsDays: 120 } });
      const [tunedBucket] = Object.entries(resourcesOf(tuned, 'AWS::S3::Bucket'))
        .filter(([id]) => id.startsWith('StagingBucket'))
        .map(([, resource]) => resource);

      assert.deepEqual(expiryOf(tunedBucket), {
        'incoming/': 15,
        'staging/': 15,
        'reports/': 45,
        'exports/': 120,
      });
      assert.throws(() => synth({ retention: { importJobsDays: 0 } }), /retention\.importJobsDays/);
    });

    it('keeps what a redrive reads for the days of redriveRetentionDays, and refuses fewer than 15', () => {
      const { data: longer } = synth({ redriveRetentionDays: 30 });
      const [longerBucket] = Object.entries(resourcesOf(longer, 'AWS::S3::Bucket'))
        .filter(([id]) => id.startsWith('StagingBucket'))
        .map(([, resource]) => resource);

      assert.deepEqual(expiryOf(longerBucket), {
        'incoming/': 30,
        'staging/': 30,
        'reports/': 90,
        'exports/': 90,
      });
      assert.throws(() => synth({ redriveRetentionDays: 14 }), /redriveRetentionDays/);
    });
  });
});
