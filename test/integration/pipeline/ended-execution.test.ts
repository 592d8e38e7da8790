import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { failEndedExecution } from '../../../lib/jobs/fail-ended-execution.ts';
import { createOrClaimJob, getJob } from '../../../lib/jobs/job-repository.ts';
import type { ImportExecutionInput } from '../../../lib/model/types.ts';
import { runtimeDeps } from '../../../lib/runtime/deps.ts';
import { localPipeline } from '../../support/local-pipeline.ts';

const DOMAIN = '7e1f0c3a-5b2d-4e8f-9a6c-1d2e3f4a5b6c';

/** The event EventBridge delivers when an execution ends, as the rule's FailJob target gets it. */
const ended = (status: string, input: unknown, error?: string) => ({
  'detail-type': 'Step Functions Execution Status Change' as const,
  detail: {
    status,
    executionArn: `arn:aws:states:eu-west-1:123456789012:execution:import:${randomUUID()}`,
    input: JSON.stringify(input),
    ...(error ? { error, cause: 'the output of LoadBatches was over 256 KiB' } : {}),
  },
});

describe('an import execution that ended without FailJob', () => {
  const suite = localPipeline('ended_execution');

  const processingJob = async (): Promise<ImportExecutionInput> => {
    const input: ImportExecutionInput = {
      jobId: randomUUID(),
      kind: 'nodes',
      domainId: DOMAIN,
      groupId: 'dating',
      source: { uri: 's3://uploads/users.csv' },
      origin: 'test',
    };
    await createOrClaimJob(suite.pool, { ...input, source: input.source.uri, executionId: input.jobId });
    return input;
  };
  const statusEvents = async (jobId: string) =>
    (await suite.pool.query('SELECT 1 FROM job_status_events WHERE job_id = $1', [jobId])).rowCount;

  for (const status of ['TIMED_OUT', 'ABORTED']) {
    it(`${status}: fails the job left PROCESSING and publishes its status once, however often delivered`, async () => {
      const input = await processingJob();

      const first = await failEndedExecution(await runtimeDeps(), ended(status, input));
      const published = await statusEvents(input.jobId);
      const again = await failEndedExecution(await runtimeDeps(), ended(status, input));

      assert.equal(first?.status, 'FAILED');
      assert.equal(again, undefined);
      const job = await getJob(suite.pool, input.jobId);
      assert.equal(job?.status, 'FAILED');
      assert.match(job?.failureReason ?? '', new RegExp(`Execution${status}`));
      assert.ok((published ?? 0) > 0, 'the status was published');
      assert.equal(await statusEvents(input.jobId), published);
    });
  }

  it('FAILED past every Catch (States.DataLimitExceeded): fails the job with that error', async () => {
    const input = await processingJob();

    const message = await failEndedExecution(
      await runtimeDeps(),
      ended('FAILED', input, 'States.DataLimitExceeded'),
    );

    assert.equal(message?.status, 'FAILED');
    assert.match((await getJob(suite.pool, input.jobId))?.failureReason ?? '', /States\.DataLimitExceeded/);
  });

  it('FAILED after FailJob ran: leaves the final job and publishes nothing more', async () => {
    const input = await processingJob();
    const deps = await runtimeDeps();
    await failEndedExecution(deps, ended('TIMED_OUT', input));
    const published = await statusEvents(input.jobId);

    assert.equal(await failEndedExecution(deps, ended('FAILED', input, 'InvalidFileError')), undefined);
    assert.equal(await statusEvents(input.jobId), published);
  });

  it('ignores executions that carry no import job (the user export)', async () => {
    const outcome = await failEndedExecution(
      await runtimeDeps(),
      ended('TIMED_OUT', { trigger: 'schedule' }),
    );

    assert.equal(outcome, undefined);
  });
});
