import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Template } from 'aws-cdk-lib/assertions';
import { RETENTION_DEFAULTS } from '../../lib/settings.ts';
import { functionsByHandler, resourcesOf, synth } from './support/synth.ts';

interface ScheduleProps {
  ScheduleExpression: string;
  State?: string;
  Target: {
    Arn: unknown;
    Input: string;
    DeadLetterConfig?: { Arn: unknown };
    RetryPolicy?: { MaximumRetryAttempts: number };
  };
}

/** The schedule whose target is the prune function, and that function's environment. */
function pruneSchedule(template: Template) {
  const prune = functionsByHandler(template).prune;
  assert.ok(prune, 'a prune function');
  const schedules = Object.values(resourcesOf<ScheduleProps>(template, 'AWS::Scheduler::Schedule')).filter(
    (s) =>
      JSON.stringify(s.Properties.Target.Arn) === JSON.stringify({ 'Fn::GetAtt': [prune.logicalId, 'Arn'] }),
  );
  assert.equal(schedules.length, 1, 'one schedule invokes the prune function');
  return { schedule: schedules[0]!.Properties, env: prune.properties.Environment?.Variables ?? {} };
}

describe('retention on AWS', () => {
  it('invokes the prune function daily, with retries and a dead-letter queue, with the default retention', () => {
    const { pipeline } = synth();
    const { schedule, env } = pruneSchedule(pipeline);

    assert.equal(schedule.ScheduleExpression, 'cron(30 3 * * ? *)');
    assert.notEqual(schedule.State, 'DISABLED');
    assert.equal(schedule.Target.RetryPolicy?.MaximumRetryAttempts, 3);
    const dlq = (schedule.Target.DeadLetterConfig?.Arn as { 'Fn::GetAtt'?: string[] })?.['Fn::GetAtt']?.[0];
    assert.ok(
      dlq && resourcesOf(pipeline, 'AWS::SQS::Queue')[dlq],
      'dead letters go to a queue of the stack',
    );
    assert.deepEqual(
      [env.RETENTION_IMPORT_JOBS_DAYS, env.RETENTION_MATCH_JOBS_DAYS, env.RETENTION_EXPORT_RUNS_DAYS],
      ['90', '30', '90'],
    );
    assert.deepEqual(RETENTION_DEFAULTS, {
      importJobsDays: 90,
      matchJobsDays: 30,
      exportRunsDays: 90,
      deadLettersDays: 30,
    });
  });

  it('takes the schedule and the days from the retention context, the function and the bucket alike', () => {
    const { pipeline } = synth({
      retention: { schedule: 'rate(12 hours)', importJobsDays: 45, matchJobsDays: 7, exportRunsDays: 120 },
    });
    const { schedule, env } = pruneSchedule(pipeline);

    assert.equal(schedule.ScheduleExpression, 'rate(12 hours)');
    assert.deepEqual(
      [env.RETENTION_IMPORT_JOBS_DAYS, env.RETENTION_MATCH_JOBS_DAYS, env.RETENTION_EXPORT_RUNS_DAYS],
      ['45', '7', '120'],
    );
    assert.throws(() => synth({ retention: { schedule: 'daily' } }), /retention\.schedule/);
  });
});
