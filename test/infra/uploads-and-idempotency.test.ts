import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONFIG_ENV } from '../../lib/config.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

const { pipeline, data } = synth();
const functions = functionsByHandler(pipeline);

const logicalIdOf = (type: string, fragment: string): string => {
  const id = Object.keys(resourcesOf(pipeline, type)).find((logicalId) => logicalId.includes(fragment));
  assert.ok(id, `a ${type} named like ${fragment}`);
  return id;
};

/** The statements of a function's default policy (its role is `<Construct>ServiceRole…`). */
const statementsOf = (roleIdPrefix: string): Array<Record<string, unknown>> =>
  Object.values(
    resourcesOf<{ Roles: unknown[]; PolicyDocument: { Statement: Array<Record<string, unknown>> } }>(
      pipeline,
      'AWS::IAM::Policy',
    ),
  )
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleIdPrefix}ServiceRole`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);

describe('S3 upload trigger', () => {
  it('sends the bucket events to EventBridge', () => {
    data.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it('invokes object-created for Object Created events of the stack bucket under incoming/nodes/', () => {
    const objectCreated = functions['object-created'];
    assert.ok(objectCreated);
    const rules = Object.keys(resourcesOf(pipeline, 'AWS::Events::Rule')).filter((id) =>
      id.startsWith('Uploads'),
    );

    assert.equal(rules.length, 1);
    pipeline.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ 'Fn::ImportValue': Match.stringLikeRegexp('StagingBucket') }] },
          object: { key: [{ prefix: 'incoming/nodes/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [objectCreated.logicalId, 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalIdOf('AWS::SQS::Queue', 'IngestDeadLettersFailures'), 'Arn'] },
          },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: Match.anyValue() }),
        }),
      ],
    });
    pipeline.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [objectCreated.logicalId, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
  });

  it('sends events the function failed on, after its retries, to the failures queue', () => {
    const objectCreated = functions['object-created'];
    assert.ok(objectCreated);

    pipeline.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: objectCreated.logicalId },
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [logicalIdOf('AWS::SQS::Queue', 'IngestDeadLettersFailures'), 'Arn'] },
        },
      },
    });
  });
});

describe('idempotency table', () => {
  it('has the layout of the Powertools DynamoDB persistence layer: key id, TTL on expiration', () => {
    pipeline.resourceCountIs('AWS::DynamoDB::Table', 1);
    pipeline.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  for (const [handler, roleIdPrefix] of [
    ['ingest', 'Ingest'],
    ['object-created', 'ObjectCreated'],
    ['dlq-replay', 'DlqReplay'],
  ] as const) {
    it(`lets ${handler} use it with the item operations only, and names it in its environment`, () => {
      const table = logicalIdOf('AWS::DynamoDB::Table', 'Idempotency');
      const env = functions[handler]?.properties.Environment?.Variables ?? {};

      assert.deepEqual(env[CONFIG_ENV.idempotencyTable], { Ref: table });
      const onTable = statementsOf(roleIdPrefix).filter(
        (s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [table, 'Arn'] }),
      );
      assert.deepEqual(
        onTable.flatMap((s) => s.Action),
        ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      );
    });
  }

  it('takes its TTL from context', () => {
    const tuned = functionsByHandler(synth({ idempotencyTtlSeconds: 3600 }).pipeline);

    assert.equal(tuned.ingest?.properties.Environment?.Variables[CONFIG_ENV.idempotencyTtlSeconds], '3600');
  });
});

describe('dlq-replay', () => {
  it('may receive and delete the letters of the records queue and dead-letter again', () => {
    const records = logicalIdOf('AWS::SQS::Queue', 'Records');
    const env = functions['dlq-replay']?.properties.Environment?.Variables ?? {};

    assert.deepEqual(env[CONFIG_ENV.ingestDlqUrl], { Ref: records });
    const actions = statementsOf('DlqReplay')
      .filter((s) => JSON.stringify(s.Resource).includes(records))
      .flatMap((s) => s.Action);
    for (const action of [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:SendMessage',
    ]) {
      assert.ok(actions.includes(action), `${action} granted`);
    }
  });

  it('is not triggered by anything: it runs when invoked by hand', () => {
    const replay = functions['dlq-replay'];
    assert.ok(replay);

    const mappings = Object.values(resourcesOf(pipeline, 'AWS::Lambda::EventSourceMapping'));
    assert.ok(
      mappings.every(
        (m) => JSON.stringify(m.Properties.FunctionName) !== JSON.stringify({ Ref: replay.logicalId }),
      ),
    );
    const permissions = Object.values(resourcesOf(pipeline, 'AWS::Lambda::Permission'));
    assert.ok(
      permissions.every((p) => !JSON.stringify(p.Properties.FunctionName).includes(replay.logicalId)),
    );
  });
});
