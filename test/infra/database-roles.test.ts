import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

interface SecretProperties {
  GenerateSecretString?: { SecretStringTemplate?: string };
}

describe('database roles and connections (new database)', () => {
  const { data, pipeline } = synth();
  const functions = functionsByHandler(pipeline);

  /** The logical id of the generated secret of `username`. */
  const secretOf = (username: string): string => {
    const found = Object.entries(resourcesOf<SecretProperties>(data, 'AWS::SecretsManager::Secret')).filter(
      ([, secret]) =>
        secret.Properties.GenerateSecretString?.SecretStringTemplate === `{"username":"${username}"}`,
    );
    assert.equal(found.length, 1, `one secret for ${username}`);
    return found[0]?.[0] ?? '';
  };

  it('gives the proxy a secret for the master user, the application role and the migrator role, IAM required', () => {
    // The proxy refers to each secret through its attachment to the instance (which adds host and port).
    const attachments = resourcesOf<{ SecretId: { Ref: string } }>(
      data,
      'AWS::SecretsManager::SecretTargetAttachment',
    );
    const auth = (username: string) => ({
      AuthScheme: 'SECRETS',
      IAMAuth: 'REQUIRED',
      SecretArn: {
        Ref: Object.keys(attachments).find(
          (id) => attachments[id]?.Properties.SecretId.Ref === secretOf(username),
        ),
      },
    });

    data.hasResourceProperties('AWS::RDS::DBProxy', {
      Auth: [auth('matchbridge'), auth('matchbridge_app'), auth('matchbridge_migrator')],
    });
  });

  it('rotates the roles’ secrets every 30 days as the master secret, the first time a full period after they are made', () => {
    const schedules = Object.values(
      resourcesOf<{ RotateImmediatelyOnUpdate?: boolean; RotationRules: unknown }>(
        data,
        'AWS::SecretsManager::RotationSchedule',
      ),
    ).map((schedule) => schedule.Properties);

    assert.equal(schedules.length, 3);
    for (const schedule of schedules) {
      assert.deepEqual(schedule.RotationRules, { ScheduleExpression: 'rate(30 days)' });
    }
    assert.equal(schedules.filter((schedule) => schedule.RotateImmediatelyOnUpdate === false).length, 2);
  });

  it('lets the proxy open 90% of the instance’s connections, waiting 30 s for one', () => {
    data.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: { ConnectionBorrowTimeout: 30, MaxConnectionsPercent: 90 },
    });
  });

  it('signs the functions in as the application role, and the migrate function as the migrator and the master user', () => {
    const env = (name: 'plan' | 'migrate') => functions[name]?.properties.Environment?.Variables ?? {};

    assert.equal(env('plan')[CONFIG_ENV.dbUser], 'matchbridge_app');
    assert.equal(env('plan')[CONFIG_ENV.dbAdminUser], undefined);
    assert.equal(env('plan')[CONFIG_ENV.dbAppSecretArn], undefined);
    assert.equal(env('migrate')[CONFIG_ENV.dbUser], 'matchbridge_migrator');
    assert.equal(env('migrate')[CONFIG_ENV.dbAdminUser], 'matchbridge');
    assert.ok(env('migrate')[CONFIG_ENV.dbAppSecretArn]);
    assert.ok(env('migrate')[CONFIG_ENV.dbMigratorSecretArn]);
  });

  it('lets the migrate function sign in to the proxy as the master user and the migrator, every other one as the application role', () => {
    type Statement = { Action: unknown; Resource: unknown };
    type Policy = { PolicyDocument: { Statement: Statement[] }; Roles: { Ref: string }[] };
    const policies = Object.values(resourcesOf<Policy>(pipeline, 'AWS::IAM::Policy'));
    // A dbuser ARN ends its Fn::Join with `/<user>`.
    const userOf = (resource: unknown) => {
      const parts = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      return String(parts.at(-1)).replace(/^\//, '');
    };
    const usersOf = (name: string): string[] => {
      const role = functions[name]?.properties.Role?.['Fn::GetAtt'][0];
      return policies
        .filter((policy) => policy.Properties.Roles.some((ref) => ref.Ref === role))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter((statement) => statement.Action === 'rds-db:connect')
        .flatMap((statement) => [statement.Resource].flat().map(userOf))
        .sort();
    };

    assert.deepEqual(usersOf('migrate'), ['matchbridge', 'matchbridge_migrator']);
    for (const name of ['plan', 'load-batch', 'load-match-batch', 'finalize', 'fail-job', 'api', 'ingest']) {
      assert.deepEqual(usersOf(name), ['matchbridge_app'], name);
    }
  });

  it('reserves 20 concurrent executions for each batch function, each with 2 connections, and none for the others', () => {
    for (const name of ['load-batch', 'load-match-batch'] as const) {
      assert.equal(functions[name]?.properties.ReservedConcurrentExecutions, 20);
      assert.equal(functions[name]?.properties.Environment?.Variables[CONFIG_ENV.dbPoolSize], '2');
    }
    assert.equal(functions.plan?.properties.ReservedConcurrentExecutions, undefined);
    assert.equal(functions.migrate?.properties.ReservedConcurrentExecutions, undefined);
  });

  it('sizes the batch functions and the proxy from context', () => {
    const { data: tunedData, pipeline: tuned } = synth({
      database: { proxyConnections: 200, maxConnectionsPercent: 75 },
    });

    assert.equal(functionsByHandler(tuned)['load-batch']?.properties.ReservedConcurrentExecutions, 50);
    tunedData.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: 75 }),
    });
  });

  it('alarms when a client waited 15 s (half the borrow timeout) for a proxy connection', () => {
    pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnectionsBorrowLatency',
      Dimensions: [{ Name: 'ProxyName', Value: { 'Fn::ImportValue': Match.anyValue() } }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 15_000_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [Match.anyValue()],
    });
  });
});

describe('database roles and connections (existing database)', () => {
  const { pipeline } = synth({
    database: {
      mode: 'existing',
      host: 'db.internal.example',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:matchbridge-db-AbCdEf',
      securityGroupId: 'sg-0123456789abcdef0',
    },
  });
  const functions = functionsByHandler(pipeline);

  it('signs every function in with the given secret, reserves no concurrency and has no borrow alarm', () => {
    const migrate = functions.migrate?.properties.Environment?.Variables ?? {};
    assert.equal(migrate[CONFIG_ENV.dbAdminUser], undefined);
    assert.equal(migrate[CONFIG_ENV.dbUser], undefined);
    assert.equal(functions['load-batch']?.properties.ReservedConcurrentExecutions, undefined);
    const alarms = Object.values(resourcesOf<{ MetricName?: string }>(pipeline, 'AWS::CloudWatch::Alarm'));
    assert.ok(!alarms.some((alarm) => alarm.Properties.MetricName === 'DatabaseConnectionsBorrowLatency'));
  });
});
