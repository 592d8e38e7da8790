import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionStarter } from '../ingest/ingest-records.ts';
import type { ImportExecutionInput } from '../jobs/types.ts';

/** Starts import executions on AWS; the execution name is the job id, so a second start is a duplicate. */
export function stepFunctionsStarter(stateMachineArn: string, region: string): ExecutionStarter {
  const client = new SFNClient({ region });
  return {
    async start(input: ImportExecutionInput) {
      try {
        await client.send(
          new StartExecutionCommand({ stateMachineArn, name: input.jobId, input: JSON.stringify(input) }),
        );
        return 'started';
      } catch (error) {
        if (error instanceof ExecutionAlreadyExists) return 'duplicate';
        throw error;
      }
    },
  };
}
