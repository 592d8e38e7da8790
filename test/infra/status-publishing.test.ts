import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parseInfraConfig } from '../../infra/config.ts';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { bundleWithHouseSettings } from './support/bundle.ts';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/imports/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-2';
const TOPICS = 'arn:aws:kafka:eu-west-1:123456789012:topic/imports/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-2';
const BROKERS =
  'b-1.imports.kafka.eu-west-1.amazonaws.com:9098,b-2.imports.kafka.eu-west-1.amazonaws.com:9098';
const PUBLISHERS = ['fail-job', 'finalize', 'finalize-erasure'];

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type Synthesized = ReturnType<typeof synth>;

/** The statements of a function's default policy (its role is `<Construct>ServiceRole…`). */
function statementsOf(app: Synthesized, roleIdPrefix: string): Statement[] {
  return Object.values(
    resourcesOf<{ Roles: unknown[]; PolicyDocument: { Statement: Statement[] } }>(
      app.pipeline,
      'AWS::IAM::Policy',
    ),
  )
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleIdPrefix}ServiceRole`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

/** The resources an Allow statement grants `action` on, as JSON strings. */
function grantedOn(statements: Statement[], action: string): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action))
    .flatMap((s) => [s.Resource].flat().map((resource) => JSON.stringify(resource)));
}

function envOf(app: Synthesized): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, fn] of Object.entries(functionsByHandler(app.pipeline))) {
    out[name] = fn.properties.Environment?.Variables ?? {};
  }
  return out;
}

function statusQueueId(app: Synthesized): string {
  const id = Object.keys(resourcesOf(app.pipeline, 'AWS::SQS::Queue')).find((logicalId) =>
    logicalId.startsWith('StatusPublishingDeadLetters'),
  );
  assert.ok(id, 'a status dead-letter queue');
  return id;
}

describe('status publishing without an MSK cluster', () => {
  const app = synth();
  const env = envOf(app);

  it('has an encrypted status dead-letter queue that refuses requests without TLS', () => {
    const id = statusQueueId(app);
    const queue = resourcesOf<{ SqsManagedSseEnabled?: boolean }>(app.pipeline, 'AWS::SQS::Queue')[id];
    assert.equal(queue?.Properties.SqsManagedSseEnabled, true);
    const policies = Object.values(
      resourcesOf<{ Queues: unknown[]; PolicyDocument: { Statement: Array<Record<string, unknown>> } }>(
        app.pipeline,
        'AWS::SQS::QueuePolicy',
      ),
    ).filter((policy) => JSON.stringify(policy.Properties.Queues) === JSON.stringify([{ Ref: id }]));
    assert.equal(policies.length, 1);
    assert.ok(
      policies[0]?.Properties.PolicyDocument.Statement.some(
        (s) =>
          s.Effect === 'Deny' &&
          JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
    );
  });

  it('gives finalize, fail-job and finalize-erasure, and only them, the queue, the default event bus and the status topics', () => {
    const id = statusQueueId(app);
    const withDlq = Object.keys(env).filter((name) => env[name]?.[CONFIG_ENV.statusDlqUrl] !== undefined);

    assert.deepEqual(withDlq.sort(), PUBLISHERS);
    for (const name of PUBLISHERS) {
      assert.deepEqual(env[name]?.[CONFIG_ENV.statusDlqUrl], { Ref: id });
      assert.equal(env[name]?.[CONFIG_ENV.eventBusName], 'default');
      assert.equal(env[name]?.[CONFIG_ENV.nodesStatusTopic], 'nodes-import-status');
      assert.equal(env[name]?.[CONFIG_ENV.matchesStatusTopic], 'matches-import-status');
      assert.equal(env[name]?.[CONFIG_ENV.kafkaBrokers], undefined);
    }
  });

  it('lets them send to the queue and put events on the default bus, and nothing on Kafka', () => {
    for (const role of ['Finalize', 'FailJob']) {
      const statements = statementsOf(app, role);

      assert.deepEqual(grantedOn(statements, 'sqs:SendMessage'), [
        JSON.stringify({ 'Fn::GetAtt': [statusQueueId(app), 'Arn'] }),
      ]);
      assert.equal(grantedOn(statements, 'events:PutEvents').length, 1);
      assert.match(grantedOn(statements, 'events:PutEvents')[0] ?? '', /:event-bus\/default"/);
      assert.deepEqual(grantedOn(statements, 'kafka-cluster:WriteData'), []);
    }
    assert.deepEqual(grantedOn(statementsOf(app, 'LoadBatch'), 'events:PutEvents'), []);
  });
});

describe('status publishing to MSK with IAM', () => {
  const app = synth({
    mskClusterArn: CLUSTER,
    vpc: MSK_VPC,
    mskBootstrapBrokers: BROKERS,
    eventBusName: 'imports',
  });
  const env = envOf(app);

  it('points finalize and fail-job at the brokers with IAM auth', () => {
    for (const name of PUBLISHERS) {
      assert.equal(env[name]?.[CONFIG_ENV.kafkaBrokers], BROKERS);
      assert.equal(env[name]?.[CONFIG_ENV.kafkaAuth], 'iam');
      assert.equal(env[name]?.[CONFIG_ENV.eventBusName], 'imports');
    }
    assert.equal(env.plan?.[CONFIG_ENV.kafkaBrokers], undefined);
  });

  it('lets them connect to the cluster and describe and write the status topics only', () => {
    for (const role of ['Finalize', 'FailJob']) {
      const statements = statementsOf(app, role);
      const topics = [`${TOPICS}/matches-import-status`, `${TOPICS}/nodes-import-status`].map((arn) =>
        JSON.stringify(arn),
      );

      assert.deepEqual(grantedOn(statements, 'kafka-cluster:Connect'), [JSON.stringify(CLUSTER)]);
      assert.deepEqual(grantedOn(statements, 'kafka-cluster:DescribeTopic').sort(), topics);
      assert.deepEqual(grantedOn(statements, 'kafka-cluster:WriteData').sort(), topics);
      assert.deepEqual(grantedOn(statements, 'kafka-cluster:ReadData'), []);
      assert.match(grantedOn(statements, 'events:PutEvents')[0] ?? '', /:event-bus\/imports"/);
    }
  });

  it('refuses brokers without the cluster ARN the permissions are derived from', () => {
    assert.throws(
      () => parseInfraConfig({ mskBootstrapBrokers: BROKERS }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'INVALID_CONFIGURATION');
        assert.deepEqual((error as { details: { keys: string[] } }).details.keys, ['mskBootstrapBrokers']);
        return true;
      },
    );
  });
});

describe('function bundles', () => {
  it('carry a Kafka client that loads away from its package folder, as in a Lambda', {
    timeout: 60_000,
  }, async () => {
    const built = await bundleWithHouseSettings(join(PROJECT_ROOT, 'lib', 'kafka', 'producer.ts'));
    try {
      const bundled = (await import(pathToFileURL(built.outfile).href)) as { createKafkaProducer?: unknown };

      assert.equal(typeof bundled.createKafkaProducer, 'function');
    } finally {
      await built.cleanup();
    }
  });
});
