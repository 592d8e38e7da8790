import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { USER_EXPORT_STATE_NAMES } from '../../infra/constructs/user-export.ts';
import { extractStateMachines, localFunctionArn } from '../../infra/definitions.ts';
import { CONFIG_ENV } from '../../lib/config.ts';
import { USER_EXPORT_STATE_MACHINE_NAME } from '../../lib/export/types.ts';
import { LAMBDA_SERVICE_ERROR_NAMES } from './support/expected-retry.ts';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string; Next: string }[];
  Parameters?: Record<string, unknown>;
  ItemsPath?: string;
  ItemSelector?: Record<string, unknown>;
  MaxConcurrency?: number;
  ResultPath?: string;
  ItemProcessor?: { StartAt: string; States: Record<string, State> };
  Choices?: Record<string, unknown>[];
  Default?: string;
  OutputPath?: string;
}

const N = USER_EXPORT_STATE_NAMES;
const built = synth();
const machine = extractStateMachines({ [built.stacks.pipeline.stackName]: built.pipeline.toJSON() })[
  USER_EXPORT_STATE_MACHINE_NAME
];
const definition = machine?.definition as unknown as { StartAt: string; States: Record<string, State> };

describe('user export: schedule and state machine', () => {
  it('starts the export state machine every day at 23:20 India time, with a dead-letter queue and retries', () => {
    const schedules = resourcesOf<{
      ScheduleExpression: string;
      ScheduleExpressionTimezone: string;
      State?: string;
      Target: {
        Arn: unknown;
        Input: string;
        DeadLetterConfig?: { Arn: unknown };
        RetryPolicy?: { MaximumRetryAttempts: number };
      };
    }>(built.pipeline, 'AWS::Scheduler::Schedule');
    const machineId = Object.keys(
      built.pipeline.findResources('AWS::StepFunctions::StateMachine', {
        Metadata: { 'matchbridge:state-machine': USER_EXPORT_STATE_MACHINE_NAME },
      }),
    )[0];
    // The other schedule is retention's (test/infra/retention.test.ts).
    const [schedule, ...others] = Object.values(schedules).filter(
      (s) => JSON.stringify(s.Properties.Target.Arn) === JSON.stringify({ Ref: machineId }),
    );
    assert.equal(others.length, 0);
    assert.equal(schedule?.Properties.ScheduleExpression, 'cron(20 23 * * ? *)');
    assert.equal(schedule?.Properties.ScheduleExpressionTimezone, 'Asia/Kolkata');
    // No Kafka brokers in the default context: nothing could take the requests, so no run is scheduled.
    assert.equal(schedule?.Properties.State, 'DISABLED');
    const target = schedule?.Properties.Target;
    assert.deepEqual(JSON.parse(target?.Input ?? '{}'), {
      trigger: 'schedule',
      full: false,
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
    assert.equal(target?.RetryPolicy?.MaximumRetryAttempts, 3);
    const dlq = (target?.DeadLetterConfig?.Arn as { 'Fn::GetAtt'?: string[] })?.['Fn::GetAtt']?.[0];
    assert.ok(
      dlq && resourcesOf(built.pipeline, 'AWS::SQS::Queue')[dlq],
      'the dead letters go to a queue of the stack',
    );
  });

  it('takes the schedule, time zone, full flag and concurrency from context', () => {
    const tuned = synth({
      userExport: {
        schedule: 'cron(0 2 * * ? *)',
        timeZone: 'Europe/Berlin',
        fullOnSchedule: true,
        mapConcurrency: 7,
      },
    });
    tuned.pipeline.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Target: Match.objectLike({ Input: Match.stringLikeRegexp('"full":true') }),
    });
    const tunedMachine = extractStateMachines({ [tuned.stacks.pipeline.stackName]: tuned.pipeline.toJSON() })[
      USER_EXPORT_STATE_MACHINE_NAME
    ];
    const states = (tunedMachine?.definition as unknown as { States?: Record<string, State> } | undefined)
      ?.States;
    assert.equal(states?.[N.exportGroups]?.MaxConcurrency, 7);
  });

  it('lists the groups, maps over them four at a time, and summarises', () => {
    assert.equal(definition.StartAt, N.plan);
    const plan = definition.States[N.plan];
    assert.equal(plan?.Resource, localFunctionArn('export-plan'));
    assert.deepEqual(plan?.Parameters, {
      'request.$': '$',
      'executionId.$': '$$.Execution.Id',
      'startTime.$': '$$.Execution.StartTime',
    });
    assert.equal(plan?.Next, N.exportGroups);
    const map = definition.States[N.exportGroups];
    assert.equal(map?.Type, 'Map');
    assert.equal(map?.ItemsPath, '$.groups');
    assert.equal(map?.MaxConcurrency, 4);
    assert.equal(map?.ResultPath, '$.results');
    assert.equal(map?.ItemSelector?.['group.$'], '$$.Map.Item.Value');
    assert.equal(map?.Next, N.summarize);
    assert.equal(definition.States[N.summarize]?.End, true);
    assert.deepEqual(machine?.taskHandlers, {
      [N.plan]: 'export-plan',
      [N.exportGroup]: 'export-group',
      [N.exportRange]: 'export-group',
      [N.finishGroup]: 'export-group',
      [N.groupFailed]: 'export-group-failed',
      [N.summarize]: 'export-summary',
    });
  });

  it('cuts a group too large for one function into ranges: a Map of ExportRange, then FinishGroup', () => {
    const inner = definition.States[N.exportGroups]?.ItemProcessor;
    assert.equal(inner?.States[N.exportGroup]?.ResultPath, '$.outcome');
    assert.equal(inner?.States[N.exportGroup]?.Next, N.isSplit);
    const choice = inner?.States[N.isSplit];
    assert.deepEqual(choice?.Choices, [
      { Variable: '$.outcome.split', IsPresent: true, Next: N.exportRanges },
    ]);
    assert.equal(choice?.Default, N.groupExported);
    assert.equal(inner?.States[N.groupExported]?.OutputPath, '$.outcome');
    const ranges = inner?.States[N.exportRanges];
    assert.equal(ranges?.ItemsPath, '$.outcome.split.ranges');
    assert.equal(ranges?.ItemSelector?.['range.$'], '$$.Map.Item.Value');
    assert.equal(ranges?.ResultPath, '$.parts');
    assert.equal(ranges?.Next, N.finishGroup);
    assert.equal(ranges?.ItemProcessor?.States[N.exportRange]?.Retry?.[0]?.MaxAttempts, 3);
    const finish = inner?.States[N.finishGroup];
    assert.equal(finish?.Parameters?.['split.$'], '$.outcome.split');
    assert.equal(finish?.Parameters?.['parts.$'], '$.parts');
    for (const state of [ranges, finish]) {
      assert.deepEqual(state?.Catch, [
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.groupFailed },
      ]);
    }
  });

  it("retries a group's database and storage errors, then records it failed without failing the Map", () => {
    const inner = definition.States[N.exportGroups]?.ItemProcessor;
    assert.equal(inner?.StartAt, N.exportGroup);
    const exportGroup = inner?.States[N.exportGroup];
    assert.deepEqual(exportGroup?.Retry?.[0]?.ErrorEquals, [
      'DatabaseUnavailableError',
      'StorageUnavailableError',
      'DeadlineExceededError',
      ...LAMBDA_SERVICE_ERROR_NAMES,
    ]);
    assert.equal(exportGroup?.Retry?.[0]?.MaxAttempts, 3);
    assert.equal(exportGroup?.Retry?.[0]?.BackoffRate, 2);
    assert.deepEqual(exportGroup?.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: N.groupFailed },
    ]);
    assert.equal(inner?.States[N.groupFailed]?.End, true);
    assert.equal(definition.States[N.exportGroups]?.Catch, undefined);
  });

  it('lets the exporter write exports/users/ of the bucket and find its topic; runs after the migrations', () => {
    const functions = functionsByHandler(built.pipeline);
    const env = functions['export-group']?.properties.Environment?.Variables ?? {};
    assert.ok(env[CONFIG_ENV.exportBucket]);
    assert.equal(env[CONFIG_ENV.exportTopic], 'matchbridge-users');
    assert.equal(env[CONFIG_ENV.exportMessageMaxBytes], '262144');
    assert.equal(env[CONFIG_ENV.exportBatchRows], '1000');
    assert.equal(env[CONFIG_ENV.exportRowsPerFunction], '5000000');
    assert.equal(
      functions['export-plan']?.properties.Environment?.Variables[CONFIG_ENV.exportTimeZone],
      'Asia/Kolkata',
    );
    const policies = JSON.stringify(built.pipeline.findResources('AWS::IAM::Policy'));
    assert.match(policies, /exports\/users\/\*/);
    const [migrations] = Object.keys(resourcesOf(built.pipeline, 'Custom::MatchbridgeMigrations'));
    const sm = Object.values(
      built.pipeline.findResources('AWS::StepFunctions::StateMachine', {
        Metadata: { 'matchbridge:state-machine': USER_EXPORT_STATE_MACHINE_NAME },
      }),
    )[0] as { DependsOn?: string[] };
    assert.ok(sm.DependsOn?.includes(String(migrations)));
  });

  it('grants MSK writes on the *-users topics and schedules the daily run when brokers are configured', () => {
    const cluster = 'arn:aws:kafka:eu-west-1:123456789012:cluster/mb/11111111-2222-3333-4444-555555555555-1';
    const withMsk = synth({
      mskClusterArn: cluster,
      vpc: MSK_VPC,
      mskBootstrapBrokers: 'b-1.mb:9098,b-2.mb:9098',
    });
    const env = functionsByHandler(withMsk.pipeline)['export-group']?.properties.Environment?.Variables ?? {};
    assert.equal(env[CONFIG_ENV.kafkaBrokers], 'b-1.mb:9098,b-2.mb:9098');
    const [schedule] = Object.values(
      resourcesOf<{ State?: string }>(withMsk.pipeline, 'AWS::Scheduler::Schedule'),
    );
    assert.notEqual(schedule?.Properties.State, 'DISABLED', 'with brokers the daily run is scheduled');
    assert.equal(env[CONFIG_ENV.kafkaAuth], 'iam');
    const topics = 'arn:aws:kafka:eu-west-1:123456789012:topic/mb/11111111-2222-3333-4444-555555555555-1';
    withMsk.pipeline.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
            Resource: [`${topics}/*-users`, `${topics}/matchbridge-users`],
          }),
        ]),
      },
    });
  });
});
