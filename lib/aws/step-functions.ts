import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../errors.ts';
import type { ExecutionStarter } from '../model/ingest.ts';
import type { ImportExecutionInput, ImportKind } from '../model/types.ts';

/**
 * Starts import executions on AWS, each on the state machine of its kind (a string: every kind on one
 * machine); the execution name is the job id, so a second start is a duplicate.
 *
 * @throws ConfigurationError from `start` when no state machine is configured for the input's kind.
 */
export function stepFunctionsStarter(
  stateMachineArns: string | Readonly<Partial<Record<ImportKind, string>>>,
  region: string,
): ExecutionStarter {
  const client = new SFNClient({ region });
  const arnFor = (kind: ImportKind) =>
    typeof stateMachineArns === 'string' ? stateMachineArns : stateMachineArns[kind];
  return {
    async start(input: ImportExecutionInput) {
      const stateMachineArn = arnFor(input.kind);
      if (!stateMachineArn) {
        throw new ConfigurationError(`no state machine is configured for ${input.kind} imports`);
      }
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
