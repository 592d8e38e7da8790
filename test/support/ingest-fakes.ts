import type { DeadLetter, ExecutionStarter } from '../../lib/model/ingest.ts';
import type { ImportExecutionInput } from '../../lib/model/types.ts';

/** A starter that behaves like Step Functions' naming rule: an execution name starts once. */
export function fakeStarter(): ExecutionStarter & { inputs: ImportExecutionInput[] } {
  const inputs: ImportExecutionInput[] = [];
  return {
    inputs,
    async start(input) {
      if (inputs.some((i) => i.jobId === input.jobId)) return 'duplicate';
      inputs.push(input);
      return 'started';
    },
  };
}

/** A dead-letter sink that keeps what it receives. */
export function fakeSink(): { send(letter: DeadLetter): Promise<void>; letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  return {
    letters,
    async send(letter) {
      letters.push(letter);
    },
  };
}
