import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';

export interface RetentionProps {
  /** The prune function (`functions/prune/handler.ts`). */
  readonly prune: lambda.IFunction & { addEnvironment(key: string, value: string): unknown };
  /** EventBridge Scheduler expression of the daily run, in UTC. */
  readonly scheduleExpression: string;
  /** Days finished import jobs are kept. */
  readonly importJobsDays: number;
  /** Days finished match import jobs are kept. */
  readonly matchJobsDays: number;
  /** Days finished export runs (and the removal tombstones they sent) are kept. */
  readonly exportRunsDays: number;
}

/**
 * Retention on AWS: an EventBridge Scheduler schedule invokes the prune function once a day (with retries
 * and a dead-letter queue for invocations it could not make), and the function reads its retention days
 * from the same settings as the bucket's lifecycle rules.
 */
export class Retention extends Construct {
  readonly schedule: scheduler.Schedule;
  /** Daily prunes the scheduler could not start, after its retries (alarmed by {@link Monitoring.watch}). */
  readonly scheduleDeadLetters: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: RetentionProps) {
    super(scope, id);
    props.prune.addEnvironment(CONFIG_ENV.retentionImportJobsDays, String(props.importJobsDays));
    props.prune.addEnvironment(CONFIG_ENV.retentionMatchJobsDays, String(props.matchJobsDays));
    props.prune.addEnvironment(CONFIG_ENV.retentionExportRunsDays, String(props.exportRunsDays));
    this.scheduleDeadLetters = new DeadLetterQueue(this, 'ScheduleDeadLetters', {
      purpose: 'daily prunes the scheduler could not start (run the prune function by hand, or wait a day)',
    });
    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: 'Daily prune of finished jobs, export runs and expired idempotency keys',
      schedule: scheduler.ScheduleExpression.expression(props.scheduleExpression),
      target: new targets.LambdaInvoke(props.prune, {
        input: scheduler.ScheduleTargetInput.fromObject({
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
        }),
        deadLetterQueue: this.scheduleDeadLetters,
        retryAttempts: 3,
        maxEventAge: Duration.hours(6),
      }),
    });
  }
}
