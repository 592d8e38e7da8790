import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

const CLUSTER_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:cluster/matchbridge/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1';

describe('ingest', () => {
  it('creates no MSK event-source mapping without mskClusterArn', () => {
    const { pipeline } = synth();

    pipeline.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });

  it('creates one mapping per topic, from LATEST by default, with an SQS on-failure destination', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users', 'us-users'],
      matchImportTopics: ['eu-matches'],
      erasureTopics: ['eu-erasures'],
    });
    const ingest = functionsByHandler(pipeline).ingest;
    assert.ok(ingest);

    const mappings = Object.values(resourcesOf(pipeline, 'AWS::Lambda::EventSourceMapping')).map(
      (m) => m.Properties,
    );
    assert.deepEqual(mappings.map((m) => m.Topics).sort(), [
      ['eu-erasures'],
      ['eu-matches'],
      ['eu-users'],
      ['us-users'],
    ]);
    for (const mapping of mappings) {
      assert.equal(mapping.EventSourceArn, CLUSTER_ARN);
      assert.equal(mapping.StartingPosition, 'LATEST');
      assert.deepEqual(mapping.FunctionName, { Ref: ingest.logicalId });
    }
    const failures = Object.keys(resourcesOf(pipeline, 'AWS::SQS::Queue')).find((id) =>
      id.startsWith('IngestDeadLettersFailures'),
    );
    assert.ok(failures);
    pipeline.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failures, 'Arn'] } } },
    });
  });

  it('bounds the retries of every mapping: provisioned pollers, retry limit, record age, bisect, partial responses', () => {
    const { pipeline } = synth({ mskClusterArn: CLUSTER_ARN, vpc: MSK_VPC, nodeImportTopics: ['eu-users'] });

    pipeline.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('takes the starting position, pollers, retries and record age from the kafkaIngest context', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users'],
      kafkaIngest: {
        startingPosition: 'TRIM_HORIZON',
        minimumPollers: 2,
        maximumPollers: 8,
        maximumRetryAttempts: 2,
        maximumRecordAgeSeconds: 3600,
      },
    });

    pipeline.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 8 },
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('alarms on the OffsetLag of each mapping, by its UUID, to the alarm topic', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users'],
      matchImportTopics: ['eu-matches'],
    });
    const mappingIds = Object.keys(resourcesOf(pipeline, 'AWS::Lambda::EventSourceMapping')).sort();
    const ingest = functionsByHandler(pipeline).ingest;
    const topicId = Object.keys(resourcesOf(pipeline, 'AWS::SNS::Topic')).find((id) =>
      id.startsWith('MonitoringAlarmTopic'),
    );
    assert.ok(ingest && topicId);
    const alarms = Object.values(resourcesOf(pipeline, 'AWS::CloudWatch::Alarm'))
      .map((alarm) => alarm.Properties)
      .filter((alarm) => alarm.MetricName === 'OffsetLag');

    // Node, match and erasure topics: one mapping each.
    assert.equal(alarms.length, 3);
    const byMapping = alarms
      .map((alarm) => {
        const dimensions = alarm.Dimensions as Array<{ Name: string; Value: unknown }>;
        return dimensions.find((d) => d.Name === 'EventSourceMappingUUID')?.Value as { Ref: string };
      })
      .map((ref) => ref.Ref)
      .sort();
    assert.deepEqual(byMapping, mappingIds);
    for (const alarm of alarms) {
      assert.equal(alarm.Namespace, 'AWS/Lambda');
      assert.equal(alarm.Statistic, 'Maximum');
      assert.equal(alarm.Period, 300);
      assert.equal(alarm.EvaluationPeriods, 3);
      assert.equal(alarm.Threshold, 1000);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(
        (alarm.Dimensions as Array<{ Name: string; Value: unknown }>).find((d) => d.Name === 'FunctionName')
          ?.Value,
        { Ref: ingest.logicalId },
      );
      assert.deepEqual(alarm.AlarmActions, [{ Ref: topicId }]);
    }
  });

  it('lets the mappings read their topics and commit their groups on an IAM-authenticated cluster', () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER_ARN,
      vpc: MSK_VPC,
      nodeImportTopics: ['eu-users'],
      matchImportTopics: ['eu-matches'],
      erasureTopics: ['eu-erasures'],
    });
    const topicArn = (topic: string) => `${CLUSTER_ARN.replace(':cluster/', ':topic/')}/${topic}`;

    pipeline.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^IngestServiceRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
            Resource: [topicArn('eu-erasures'), topicArn('eu-matches'), topicArn('eu-users')],
          }),
        ]),
      },
    });
  });

  it('keeps dead letters 14 days, encrypted, over TLS only', () => {
    const { pipeline } = synth();

    const queues = Object.entries(resourcesOf(pipeline, 'AWS::SQS::Queue'))
      .filter(([id]) => id.startsWith('IngestDeadLetters'))
      .map(([, queue]) => queue);
    assert.equal(queues.length, 2);
    for (const queue of queues) {
      assert.equal(queue.Properties.MessageRetentionPeriod, 14 * 24 * 60 * 60);
      assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    }
    pipeline.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        Queues: [{ Ref: Match.stringLikeRegexp('^IngestDeadLetters') }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      2,
    );
  });

  it('lets ingest start executions of the import state machine and send to its dead-letter queue', () => {
    const { pipeline } = synth();
    const machineIds = Object.entries(resourcesOf(pipeline, 'AWS::StepFunctions::StateMachine'));
    const machineId = machineIds.find(([, m]) => m.Metadata?.['matchbridge:state-machine'] === 'import')?.[0];
    const matchMachineId = machineIds.find(
      ([, m]) => m.Metadata?.['matchbridge:state-machine'] === 'match-import',
    )?.[0];
    const erasureMachineId = machineIds.find(
      ([, m]) => m.Metadata?.['matchbridge:state-machine'] === 'erasure',
    )?.[0];
    const recordsId = Object.keys(resourcesOf(pipeline, 'AWS::SQS::Queue')).find((id) =>
      id.includes('Records'),
    );
    const ingest = functionsByHandler(pipeline).ingest;
    assert.ok(machineId && matchMachineId && erasureMachineId && recordsId && ingest);

    const env = ingest.properties.Environment?.Variables ?? {};
    assert.deepEqual(env.IMPORT_STATE_MACHINE_ARN, { Ref: machineId });
    assert.deepEqual(env.MATCH_IMPORT_STATE_MACHINE_ARN, { Ref: matchMachineId });
    assert.deepEqual(env.ERASURE_STATE_MACHINE_ARN, { Ref: erasureMachineId });
    assert.deepEqual(env.INGEST_DLQ_URL, { Ref: recordsId });
    // arrayWith matches in order: one statement per assertion.
    const statementInIngestPolicy = (statement: Record<string, unknown>) =>
      pipeline.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp('^IngestServiceRole') }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(statement)]) },
      });
    statementInIngestPolicy({
      Action: 'states:StartExecution',
      // Sorted by logical id: Erasure…, Import…, MatchImport….
      Resource: [{ Ref: erasureMachineId }, { Ref: machineId }, { Ref: matchMachineId }],
    });
    statementInIngestPolicy({
      Action: Match.arrayWith(['sqs:SendMessage']),
      Resource: { 'Fn::GetAtt': [recordsId, 'Arn'] },
    });
  });
});
